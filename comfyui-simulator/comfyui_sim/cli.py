"""Command-line flags, with the names and meanings of ComfyUI 0.8.0's ``comfy/cli_args.py``.

Unknown flags are rejected by argparse exactly as ComfyUI rejects them
(``main.py: error: unrecognized arguments: ...``, exit status 2).
"""

from __future__ import annotations

import argparse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py")
    parser.add_argument(
        "--listen",
        type=str,
        default="127.0.0.1",
        metavar="IP",
        nargs="?",
        const="0.0.0.0,::",
        help="Comma-separated addresses to listen on (default 127.0.0.1; without a value: all).",
    )
    parser.add_argument("--port", type=int, default=8188, help="Set the listen port.")
    parser.add_argument("--tls-keyfile", type=str, help="Path to a TLS key file.")
    parser.add_argument("--tls-certfile", type=str, help="Path to a TLS certificate file.")
    parser.add_argument(
        "--enable-cors-header",
        type=str,
        default=None,
        metavar="ORIGIN",
        nargs="?",
        const="*",
        help="Enable CORS with an optional origin; disables the origin check.",
    )
    parser.add_argument("--max-upload-size", type=float, default=100, help="Maximum upload size in MB.")
    parser.add_argument("--base-directory", type=str, default=None, help="Base directory for models, custom_nodes, input, output, temp and user.")
    parser.add_argument(
        "--extra-model-paths-config", type=str, default=None, metavar="PATH", nargs="+", action="append", help="Load one or more extra_model_paths.yaml files."
    )
    parser.add_argument("--output-directory", type=str, default=None, help="Set the ComfyUI output directory.")
    parser.add_argument("--temp-directory", type=str, default=None, help="Set the ComfyUI temp directory.")
    parser.add_argument("--input-directory", type=str, default=None, help="Set the ComfyUI input directory.")
    parser.add_argument("--user-directory", type=str, default=None, help="Set the ComfyUI user directory.")
    parser.add_argument("--auto-launch", action="store_true", help="Open the UI in a browser (ignored: no display).")
    parser.add_argument("--disable-auto-launch", action="store_true")
    parser.add_argument("--cuda-device", type=int, default=None, metavar="DEVICE_ID", help="Set the id of the CUDA device this instance will use.")
    parser.add_argument("--cuda-malloc", action="store_true")
    parser.add_argument("--disable-cuda-malloc", action="store_true")

    fp = parser.add_mutually_exclusive_group()
    fp.add_argument("--force-fp32", action="store_true")
    fp.add_argument("--force-fp16", action="store_true")

    vram = parser.add_mutually_exclusive_group()
    vram.add_argument("--gpu-only", action="store_true", help="Store and run everything on the GPU.")
    vram.add_argument("--highvram", action="store_true", help="Keep models in GPU memory.")
    vram.add_argument("--normalvram", action="store_true", help="Force normal VRAM use.")
    vram.add_argument("--lowvram", action="store_true", help="Split the unet to use less VRAM.")
    vram.add_argument("--novram", action="store_true", help="When lowvram isn't enough.")
    vram.add_argument("--cpu", action="store_true", help="Use the CPU for everything (slow).")

    parser.add_argument("--reserve-vram", type=float, default=None, help="GB of VRAM to reserve for the OS and other software.")
    parser.add_argument("--preview-method", type=str, default="none", choices=["none", "auto", "latent2rgb", "taesd"])
    parser.add_argument("--cache-classic", action="store_true")
    parser.add_argument("--cache-lru", type=int, default=0)
    parser.add_argument("--cache-none", action="store_true")
    parser.add_argument("--disable-smart-memory", action="store_true")
    parser.add_argument("--dont-print-server", action="store_true", help="Don't print server output.")
    parser.add_argument("--quick-test-for-ci", action="store_true")
    parser.add_argument("--windows-standalone-build", action="store_true")
    parser.add_argument("--disable-metadata", action="store_true", help="Disable saving prompt metadata in files.")
    parser.add_argument("--disable-all-custom-nodes", action="store_true", help="Disable loading all custom nodes.")
    parser.add_argument(
        "--whitelist-custom-nodes", type=str, nargs="+", default=[], help="With --disable-all-custom-nodes: custom node folders that still load."
    )
    parser.add_argument("--disable-api-nodes", action="store_true", help="Disable loading all API nodes.")
    parser.add_argument("--multi-user", action="store_true", help="Enables per-user storage.")
    parser.add_argument(
        "--verbose", default="INFO", const="DEBUG", nargs="?", choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], help="Set the logging level"
    )
    parser.add_argument("--log-stdout", action="store_true", help="Send normal process output to stdout instead of stderr.")
    parser.add_argument("--front-end-version", type=str, default="comfyanonymous/ComfyUI@latest")
    parser.add_argument("--front-end-root", type=str, default=None)
    parser.add_argument(
        "--database-url",
        type=str,
        default=None,
        help="Database URL (sqlite:///PATH). Default: user/comfyui.db inside the checkout, as ComfyUI 0.8.0 does.",
    )
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    if args.cuda_device is not None and args.cuda_device < 0:
        build_parser().error(f"argument --cuda-device: invalid device id {args.cuda_device}")
    # ComfyUI flattens the nargs='+' / action='append' list of lists.
    if args.extra_model_paths_config:
        args.extra_model_paths_config = [p for group in args.extra_model_paths_config for p in group]
    return args
