"""ComfyUI API simulator: entry point, run exactly as ComfyUI's ``main.py`` is run.

    python main.py --cpu --listen 127.0.0.1 --port 8188

This is comfyops.comfyui's stand-in for ComfyUI in tests and in the demo deploy,
not ComfyUI itself.  See README.md beside this file.
"""

import os
import sys

CHECKOUT = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, CHECKOUT)

from comfyui_sim.server import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], CHECKOUT))
