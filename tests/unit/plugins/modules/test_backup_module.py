"""comfyops.comfyui.comfyui_backup and comfyui_backup_info as Ansible runs them, with the real restic."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from test_modules import run_module

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "module_utils"))
from test_backup import make_base

pytestmark = pytest.mark.skipif(shutil.which("restic") is None, reason="restic is installed by `make unit`")
PASSWORD = "vault-restic-pa55word"


@pytest.fixture
def args(tmp_path):
    base = make_base(tmp_path)
    return {"base": str(base), "repository": str(tmp_path / "repo"), "password": PASSWORD, "instances": ["default"], "host": "gpu-01"}


@pytest.mark.slow
def test_backup_verify_info_prune_restore_and_metrics(tmp_path, args):
    planned = run_module(tmp_path, "comfyops.comfyui.comfyui_backup", args, check=True)
    assert planned["changed"] is True and planned["plan"]["files"] >= 12 and not (tmp_path / "repo").exists()
    made = run_module(tmp_path, "comfyops.comfyui.comfyui_backup", dict(args, textfile_dir=str(tmp_path / "textfile")))
    assert not made.get("failed") and made["changed"] is True and made["release"] == "v0.8.0-abc-123" and made["bytes_added"] > 0
    metrics = (tmp_path / "textfile" / "comfyui_backup.prom").read_text()
    assert "comfyui_backup_snapshots 1" in metrics and "comfyui_backup_last_success_timestamp_seconds " in metrics
    verified = run_module(tmp_path, "comfyops.comfyui.comfyui_backup", dict(args, state="verified", read_data_subset="100%"))
    assert verified["ok"] is True and verified["changed"] is False and verified["snapshot_id"].startswith(made["snapshot_id"])
    info = run_module(tmp_path, "comfyops.comfyui.comfyui_backup_info", {k: args[k] for k in ("base", "repository", "password")})
    [item] = info["snapshots"]
    chosen = run_module(
        tmp_path, "comfyops.comfyui.comfyui_backup_info", {k: args[k] for k in ("base", "repository", "password")} | {"host": "gpu-01", "sizes": False}
    )
    assert chosen["chosen"]["id"] == item["id"] and chosen["recorded"]["release"]["custom_nodes"] == [{"name": "n", "version": "1" * 40}]
    assert chosen["recorded"]["backup"]["release"] == "v0.8.0-abc-123" and chosen["recorded"]["models"]["models"][0]["name"] == "m.safetensors"
    assert item["release"] == "v0.8.0-abc-123" and item["verified"] and item["size"] > 0 and item["files"] >= 12
    second = run_module(tmp_path, "comfyops.comfyui.comfyui_backup", args)
    third = run_module(tmp_path, "comfyops.comfyui.comfyui_backup", args)
    prune = dict(args, state="pruned", keep_last=1, keep_daily=0, keep_weekly=0)
    pruned = run_module(tmp_path, "comfyops.comfyui.comfyui_backup", prune, check=True)
    # the newest (third) by keep_last, and the first: the newest verified one
    assert pruned["changed"] is True and [i[:8] for i in pruned["kept"]] == [third["snapshot_id"], made["snapshot_id"]]
    assert [i[:8] for i in pruned["removed"]] == [second["snapshot_id"]]
    assert len(run_module(tmp_path, "comfyops.comfyui.comfyui_backup_info", {k: args[k] for k in ("base", "repository", "password")})["snapshots"]) == 3
    assert [i[:8] for i in run_module(tmp_path, "comfyops.comfyui.comfyui_backup", prune)["removed"]] == [second["snapshot_id"]]
    user = Path(args["base"], "shared", "user")
    shutil.rmtree(user / "default")
    restored = run_module(tmp_path, "comfyops.comfyui.comfyui_backup", dict(args, state="restored"))
    assert restored["changed"] is True and "user" in restored["restored"]
    assert json.loads((user / "default" / "workflows" / "flow-2.json").read_text()) == {"nodes": [2]}
    for out in (made, verified, info, restored):
        assert PASSWORD not in json.dumps(out)


def test_a_wrong_password_fails_clearly_without_showing_it(tmp_path, args):
    run_module(tmp_path, "comfyops.comfyui.comfyui_backup", args)
    out = run_module(tmp_path, "comfyops.comfyui.comfyui_backup", dict(args, password="not-the-password-9"))
    assert out["failed"] and "wrong password" in out["msg"].lower() and "not-the-password-9" not in json.dumps(out)


def test_a_password_is_required(tmp_path, args):
    out = run_module(tmp_path, "comfyops.comfyui.comfyui_backup", {k: v for k, v in args.items() if k != "password"})
    assert out["failed"] and "one of the following is required: password, password_file" in out["msg"]
