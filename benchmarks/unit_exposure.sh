#!/usr/bin/env bash
# systemd-analyze security of the ComfyUI unit: the template at a git revision (default: the one before the
# hardening of issue 9) against the working tree's, both rendered for a CUDA host, scored offline in the
# test-host image (systemd 252). Prints both exposure levels and their ratio (lower is safer).
#   benchmarks/unit_exposure.sh [OLD_REV]
set -euo pipefail
cd "$(dirname "$0")/.."
old_rev=${1:-8d1e7cf}
image=$(tests/testbed/base-image.sh)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git show "$old_rev:roles/comfyui_deploy/templates/comfyui.service.j2" >"$work/old.j2"
cp roles/comfyui_deploy/templates/comfyui.service.j2 "$work/new.j2"
.venv/bin/python - "$work" <<'PY'
import sys
import jinja2
work = sys.argv[1]
values = dict(item={"name": "default", "port": 8188}, comfyui_deploy_restart_limit_burst=5, comfyui_deploy_user="comfyui",
              comfyui_deploy_group="comfyui", comfyui_deploy_base="/srv/comfyui", comfyui_deploy_stop_timeout=300,
              comfyui_deploy_limit_nofile=65536, comfyui_deploy_tasks_max=4096, comfyui_deploy_memory_max="",
              comfyui_deploy_device_policy="auto", comfyui_deploy_device="cuda")
for name in ("old", "new"):
    text = jinja2.Template(open("%s/%s.j2" % (work, name)).read(), trim_blocks=True).render(**values)
    open("%s/comfyui-%s.service" % (work, name), "w").write(text)
PY
score() {
  docker run --rm --network none -v "$work:/u:ro" "$image" sh -c \
    "useradd -r comfyui; cp /u/comfyui-$1.service /etc/systemd/system/; systemd-analyze security --offline=yes --no-pager /etc/systemd/system/comfyui-$1.service | tail -n 1" \
    | sed -n 's/.*: \([0-9.]*\) .*/\1/p'
}
old=$(score old)
new=$(score new)
echo "exposure before ($old_rev): $old"
echo "exposure now (working tree): $new"
echo "ratio before/now: $(awk -v a="$old" -v b="$new" 'BEGIN { printf "%.2f", a / b }')"
