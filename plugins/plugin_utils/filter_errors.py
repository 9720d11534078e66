# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How every filter of the collection fails: the input errors module_utils raises become one AnsibleFilterError whose
message says what and where, with no traceback and no chained exception (which could carry a secret's value)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError


def filter_errors(prefix: str | None, *errors: type[Exception]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator: `errors` raised by the filter become AnsibleFilterError, its message prefixed with `prefix: `
    (the filter's name, for messages that do not name their option) or left as it is when `prefix` is None."""

    def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except errors as exc:
                raise AnsibleFilterError("%s: %s" % (prefix, exc) if prefix else str(exc)) from None

        return wrapped

    return wrap
