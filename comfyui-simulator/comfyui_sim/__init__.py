"""comfyops.comfyui's ComfyUI API simulator (stdlib only)."""
