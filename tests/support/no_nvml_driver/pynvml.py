"""pynvml for a subprocess that must see a host without the NVIDIA driver: the real nvidia-ml-py whose library
cannot be loaded (tests/support/nvml_nodriver.py). Put this folder first on PYTHONPATH."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from nvml_nodriver import real_pynvml_without_driver

sys.modules[__name__] = real_pynvml_without_driver(private=False)
