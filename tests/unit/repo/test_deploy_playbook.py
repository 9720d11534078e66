"""deploy.yml keeps its own copy of some role defaults (the release id is computed before the role runs):
they must stay equal to roles/comfyui_deploy/defaults/main.yml."""

from __future__ import annotations

import yaml
from conftest import REPO


def test_release_id_fallbacks_are_the_role_defaults():
    defaults = yaml.safe_load((REPO / "roles/comfyui_deploy/defaults/main.yml").read_text())
    first_play = yaml.safe_load((REPO / "playbooks/deploy.yml").read_text())[0]
    task = next(t for t in first_play["tasks"] if t["name"] == "Set the release id")
    fallbacks = task["vars"]["_setting_defaults"]
    assert {key: defaults[key] for key in fallbacks} == fallbacks
    source = defaults["comfyui_deploy_source"]
    for value in source.values():
        assert repr(value) in first_play["vars"]["_source"] or "'%s'" % value in first_play["vars"]["_source"]
