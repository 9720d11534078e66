"""pynvml for a subprocess that must see two NVIDIA H200 GPUs (the profile of tests/unit/plugins/nvml_profiles.py):
the exporter's GPU series and the GPU dashboard are checked against real Prometheus on machines without a GPU.
Put this folder first on PYTHONPATH; on a test host, with nvml_profiles.py in COMFYOPS_NVML_PROFILES. The real nvidia-ml-py supplies the exception classes."""

import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
_repo = os.path.dirname(os.path.dirname(os.path.dirname(_here)))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
del sys.modules[__name__]
import pynvml as _real  # noqa: E402,F401  (the real module, for nvml_profiles' exception classes)

# nvml_profiles.py: from the checkout, or where COMFYOPS_NVML_PROFILES says (a test host gets a copy)
sys.path.insert(0, os.environ.get("COMFYOPS_NVML_PROFILES") or os.path.join(_repo, "tests", "unit", "plugins"))
from nvml_profiles import fake_nvml  # noqa: E402

sys.modules[__name__] = fake_nvml("h200", "h200")
