# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWX / Ansible Automation Platform surveys made from Ansible argument specs, so a job template's questions are
the options the roles and playbooks already declare (type, choices, default, required, description), not a second
copy of them.

``survey_spec(name, description, variables, options)`` takes the variables to ask for, in order, and their argument
spec options; it returns the survey spec the AWX API takes (``/api/v2/job_templates/N/survey_spec/``).
"""

from __future__ import annotations

import re
from typing import Any

# argument spec type -> survey question type (bool: a choice of true / false, which AWX passes on as text)
TYPES = {"str": "text", "path": "text", "raw": "text", "int": "integer", "float": "float", "bool": "multiplechoice", "list": "textarea"}
TEXT_MAX = 1024


class SurveyError(ValueError):
    """A variable cannot be asked for in a survey; the message names it."""


def question_name(variable: str) -> str:
    """comfyui_deploy_max_fail_percentage -> 'Max fail percentage', comfyui_rollback_to -> 'Rollback to'."""
    words = variable.split("_")
    for prefix in (["comfyui", "deploy"], ["comfyui"]):
        if words[: len(prefix)] == prefix and len(words) > len(prefix):
            words = words[len(prefix) :]
            break
    text = " ".join(words)
    return text[:1].upper() + text[1:]


_MARKUP = re.compile(r"\b[CVOMIBUPE]\(([^()]*)\)")


def description_text(option: dict[str, Any]) -> str:
    """The option's description as one plain line (Ansible's C(), V(), O()... markup dropped)."""
    description = option.get("description") or ""
    if isinstance(description, list):
        description = " ".join(str(d) for d in description)
    return _MARKUP.sub(r"\1", " ".join(str(description).split()))


def survey_question(variable: str, option: dict[str, Any]) -> dict[str, Any]:
    kind = option.get("type", "str")
    if kind not in TYPES or (kind == "list" and option.get("elements", "str") != "str"):
        what = "%s of %s" % (kind, option.get("elements")) if kind == "list" else kind
        raise SurveyError("%s: a survey cannot ask for a %s; set it in the inventory or as extra vars" % (variable, what))
    question: dict[str, Any] = {
        "variable": variable,
        "question_name": question_name(variable),
        "question_description": description_text(option),
        "required": bool(option.get("required", False)),
        "type": "password" if option.get("no_log") else TYPES[kind],
    }
    default = option.get("default")
    choices = option.get("choices")
    if kind == "bool":
        choices = ["true", "false"]
        default = None if default is None else str(bool(default)).lower()
    if choices:
        question["type"] = "multiplechoice"
        question["choices"] = [str(c) for c in choices]
        if default is not None and str(default) not in question["choices"]:
            raise SurveyError("%s: its default %r is not one of its choices %s" % (variable, default, question["choices"]))
    if question["type"] in ("text", "textarea", "password"):
        question.update(min=0, max=TEXT_MAX)
    if default is not None and not option.get("no_log"):
        question["default"] = "\n".join(str(d) for d in default) if isinstance(default, list) else default if kind in ("int", "float") else str(default)
    return question


def survey_spec(name: str, description: str, variables: list[str], options: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The survey for `variables` (in that order); SurveyError names a variable no spec declares or none can ask for."""
    missing = [v for v in variables if v not in options]
    if missing:
        raise SurveyError("%s: no argument spec declares %s" % (name, ", ".join(missing)))
    if len(set(variables)) != len(variables):
        raise SurveyError("%s: a variable is asked for twice: %s" % (name, ", ".join(variables)))
    return {"name": name, "description": description, "spec": [survey_question(v, options[v]) for v in variables]}
