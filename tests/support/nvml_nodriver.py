"""The installed nvidia-ml-py as it behaves on a host without the NVIDIA driver (libnvidia-ml.so.1 cannot be loaded).

`real_pynvml_without_driver()` gives a private copy of the real pynvml module (sys.modules untouched) whose library
loader fails as it does where the driver is missing; pynvml's own code then raises NVMLError_LibraryNotFound.
Tests that describe a host without a driver use it, so they pass on a GPU host as well. For a module run in a
subprocess, put tests/support/no_nvml_driver first on PYTHONPATH: its pynvml is this copy.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from types import ModuleType

_STUB_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "no_nvml_driver")


def _no_driver(name, *args, **kwargs):
    raise OSError("%s: cannot open shared object file: No such file or directory" % name)


def real_pynvml_without_driver(private: bool = True) -> ModuleType:
    """The copy; `private` leaves sys.modules as it was (False: the copy stays there as pynvml)."""
    search = [p for p in sys.path if os.path.abspath(p or ".") != _STUB_DIR]
    spec = importlib.machinery.PathFinder.find_spec("pynvml", search)
    if spec is None or spec.loader is None:
        raise ImportError("nvidia-ml-py is not installed")
    module = importlib.util.module_from_spec(spec)
    before = sys.modules.get("pynvml")
    sys.modules["pynvml"] = module  # pynvml attaches its error classes to sys.modules[__name__] while it loads
    try:
        spec.loader.exec_module(module)
    finally:
        if private:
            if before is None:
                del sys.modules["pynvml"]
            else:
                sys.modules["pynvml"] = before
    module.CDLL = _no_driver
    module.nvmlLib = None
    return module
