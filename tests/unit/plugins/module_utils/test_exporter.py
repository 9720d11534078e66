"""The ComfyUI exporter over real loopback HTTP against the simulator; the exposition is parsed with
prometheus_client's own parser, as Prometheus would read it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest
from ansible_collections.comfyops.comfyui.plugins.module_utils import _exporter, _health
from conftest import REPO, free_port, wait_until
from nvml_profiles import fake_nvml
from prometheus_client import exposition
from prometheus_client.parser import text_string_to_metric_families

SMOKE = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "t/x"}},
}


def settings(instances, tmp_path, **extra):
    config = {"instances": instances, "state_file": str(tmp_path / "exporter-state.json"), "cache_seconds": 0, "gpu": False}
    config.update(extra)
    return _exporter.parse_settings(config)


def scrape(exporter):
    """{(name, frozenset(labels)): value} of one exposition, and the family names."""
    text = exposition.generate_latest(_exporter.registry_for(exporter)).decode()
    values, families = {}, set()
    for family in text_string_to_metric_families(text):
        families.add(family.name)
        for sample in family.samples:
            values[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return values, families, text


def value(values, name, **labels):
    return values.get((name, frozenset(labels.items())))


def prompt(sim, workflow, color):
    body = json.loads(json.dumps(workflow))
    body["1"]["inputs"]["color"] = color  # a new prompt each time: ComfyUI would serve an identical one from cache
    return sim.run_prompt(body)


def test_counts_each_prompt_once_by_outcome_and_node(start_simulator, tmp_path):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_FAIL_EXECUTIONS": "SaveImage"})
    exporter = _exporter.Exporter(settings([{"name": "main", "url": sim.url, "output_dir": str(sim.base / "output")}], tmp_path))
    values, families, _text = scrape(exporter)
    assert value(values, "comfyui_up", instance_name="main") == 1.0
    assert value(values, "comfyui_prompts_total", instance_name="main", outcome="error") == 0.0
    for color in (1, 2):
        prompt(sim, SMOKE, color)
    values = scrape(exporter)[0]
    assert value(values, "comfyui_prompts_total", instance_name="main", outcome="error") == 2.0
    assert value(values, "comfyui_node_errors_total", instance_name="main", node_class="SaveImage") == 2.0
    assert value(values, "comfyui_prompt_duration_seconds_count", instance_name="main") == 2.0
    values = scrape(exporter)[0]  # the same history again: nothing counted twice
    assert value(values, "comfyui_prompts_total", instance_name="main", outcome="error") == 2.0
    assert len(families) >= 25, sorted(families)
    exporter.close()


def test_success_counts_outputs_and_their_bytes(simulator, tmp_path):
    exporter = _exporter.Exporter(settings([{"name": "main", "url": simulator.url, "output_dir": str(simulator.base / "output")}], tmp_path))
    prompt(simulator, SMOKE, 7)
    values, _families, text = scrape(exporter)
    assert value(values, "comfyui_prompts_total", instance_name="main", outcome="success") == 1.0
    assert value(values, "comfyui_outputs_total", instance_name="main") == 1.0
    size = sum(p.stat().st_size for p in (simulator.base / "output" / "t").glob("*.png"))
    assert size > 0 and value(values, "comfyui_output_bytes_total", instance_name="main") == float(size)
    assert value(
        values, "comfyui_info", instance_name="main", version="0.8.0", python_version=sys.version.split()[0], pytorch_version="2.14.1+cu130", release=""
    )
    assert value(values, "comfyui_device_vram_total_bytes", instance_name="main", device="cpu", device_name="cpu") is not None, text
    assert value(values, "comfyui_ram_total_bytes", instance_name="main") > 0
    exporter.close()


def test_counters_survive_an_exporter_restart(simulator, tmp_path):
    config = [{"name": "main", "url": simulator.url}]
    first = _exporter.Exporter(settings(config, tmp_path))
    prompt(simulator, SMOKE, 11)
    values = scrape(first)[0]
    assert value(values, "comfyui_prompts_total", instance_name="main", outcome="success") == 1.0
    first.close()
    prompt(simulator, SMOKE, 12)
    second = _exporter.Exporter(settings(config, tmp_path))  # the same state file, the same ComfyUI history
    values = scrape(second)[0]
    assert value(values, "comfyui_prompts_total", instance_name="main", outcome="success") == 2.0, "one new prompt, the old one not again"
    assert value(values, "comfyui_prompt_duration_seconds_count", instance_name="main") == 2.0
    second.close()


def test_an_interrupted_prompt_is_counted_as_interrupted(start_simulator, tmp_path):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_NODE_SECONDS": '{"EmptyImage": 3}'})
    exporter = _exporter.Exporter(settings([{"name": "main", "url": sim.url}], tmp_path))
    answer = sim.post("/prompt", {"prompt": SMOKE, "client_id": "pytest"})
    prompt_id = answer.json()["prompt_id"]
    wait_until(lambda: sim.get("/queue").json()["queue_running"], 10, "the prompt to run")
    values = scrape(exporter)[0]
    assert value(values, "comfyui_queue_running", instance_name="main") == 1.0
    assert value(values, "comfyui_queue_running_age_seconds", instance_name="main") >= 0.0
    sim.post("/interrupt", {"prompt_id": prompt_id})
    sim.wait_history(prompt_id, 40)
    values = scrape(exporter)[0]
    assert value(values, "comfyui_prompts_total", instance_name="main", outcome="interrupted") == 1.0
    exporter.close()


def test_a_hung_prompt_shows_as_a_growing_running_age(start_simulator, tmp_path):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_NODE_SECONDS": '{"EmptyImage": 60}'})
    exporter = _exporter.Exporter(settings([{"name": "main", "url": sim.url}], tmp_path))
    sim.post("/prompt", {"prompt": SMOKE, "client_id": "pytest"})
    sim.post("/prompt", {"prompt": {**SMOKE, "1": {**SMOKE["1"], "inputs": {**SMOKE["1"]["inputs"], "color": 5}}}, "client_id": "pytest"})
    wait_until(lambda: sim.get("/queue").json()["queue_running"], 10, "the prompt to run")
    first = value(scrape(exporter)[0], "comfyui_queue_running_age_seconds", instance_name="main")
    wait_until(lambda: value(scrape(exporter)[0], "comfyui_queue_running_age_seconds", instance_name="main") >= first + 1.0, 10, "the age to grow")
    values = scrape(exporter)[0]
    assert value(values, "comfyui_queue_pending", instance_name="main") == 1.0
    assert value(values, "comfyui_queue_oldest_pending_age_seconds", instance_name="main") > 0.0
    sim.post("/queue", {"clear": True})
    sim.post("/interrupt", {})
    exporter.close()


def test_a_dead_instance_is_down_and_counted_while_the_other_serves(start_simulator, sim_base, tmp_path):
    alive = start_simulator("--cpu")
    dead = start_simulator("--cpu")
    exporter = _exporter.Exporter(settings([{"name": "alive", "url": alive.url}, {"name": "dead", "url": dead.url}], tmp_path))
    values = scrape(exporter)[0]
    assert value(values, "comfyui_up", instance_name="dead") == 1.0
    dead.stop()
    values = scrape(exporter)[0]
    assert value(values, "comfyui_up", instance_name="dead") == 0.0
    assert value(values, "comfyui_up", instance_name="alive") == 1.0
    assert value(values, "comfyui_scrape_errors_total", instance_name="dead", reason="unreachable") == 1.0
    assert value(values, "comfyui_queue_pending", instance_name="dead") is None, "no stale queue for a dead instance"
    exporter.close()


def test_a_hung_instance_costs_one_timeout_not_the_sum(start_simulator, tmp_path):
    hung = [start_simulator("--cpu", env={"COMFYUI_SIM_HANG": "1"}, wait=False) for _index in range(2)]
    for sim in hung:
        sim.wait_log("simulated hang")
    alive = start_simulator("--cpu")
    instances = [{"name": "h%d" % i, "url": s.url} for i, s in enumerate(hung)] + [{"name": "ok", "url": alive.url}]
    exporter = _exporter.Exporter(settings(instances, tmp_path, timeout=1.0))
    started = time.monotonic()
    values = scrape(exporter)[0]
    took = time.monotonic() - started
    assert took < 1.0 + 0.6, "two hung instances cost %.2f s: polled one after the other?" % took
    assert value(values, "comfyui_up", instance_name="ok") == 1.0
    assert value(values, "comfyui_up", instance_name="h0") == 0.0
    assert value(values, "comfyui_scrape_errors_total", instance_name="h0", reason="timeout") == 1.0
    exporter.close()


def test_polls_are_cached_for_the_interval(simulator, tmp_path):
    exporter = _exporter.Exporter(settings([{"name": "main", "url": simulator.url}], tmp_path, cache_seconds=60))
    scrape(exporter)
    scrape(exporter)
    assert exporter.polls == 1
    exporter.close()


def test_no_gpu_means_nvml_down_and_no_gpu_series(simulator, tmp_path, no_driver_nvml):
    exporter = _exporter.Exporter(settings([{"name": "main", "url": simulator.url}], tmp_path, gpu=True), nvml=no_driver_nvml)
    values, _families, text = scrape(exporter)
    assert value(values, "comfyui_nvml_up") == 0.0
    assert "comfyui_gpu_temperature_celsius{" not in text and "comfyui_gpu_memory_used_bytes{" not in text
    exporter.close()


@pytest.mark.parametrize("profile", ["h200", "rtx4090"])
def test_gpu_series_from_an_nvml_profile(simulator, tmp_path, profile):
    nvml = fake_nvml(profile, profile)
    exporter = _exporter.Exporter(settings([{"name": "main", "url": simulator.url}], tmp_path, gpu=True), nvml=nvml)
    values, _families, text = scrape(exporter)
    assert value(values, "comfyui_nvml_up") == 1.0
    gpus = [v for (n, labels), v in values.items() if n == "comfyui_gpu_memory_total_bytes"]
    assert len(gpus) == 2 and all(v > 0 for v in gpus)
    assert any(n == "comfyui_gpu_throttle_reason" and ("reason", "gpu_idle") in labels and v == 1.0 for (n, labels), v in values.items())
    ecc = [n for (n, _labels) in values if n == "comfyui_gpu_ecc_uncorrected_errors_total"]
    assert (len(ecc) == 4) if profile == "h200" else (ecc == []), text  # a GeForce has no ECC: absent, not 0
    exporter.close()


def test_smoke_results_come_from_the_health_textfile(simulator, tmp_path):
    textfiles = tmp_path / "textfile"
    report = _health.run_health(
        [{"name": "main", "url": simulator.url}], {"output_dir": str(simulator.base / "output")}, ["api", "workflow"], textfile_dir=str(textfiles)
    )
    assert report["state"] == "healthy"
    exporter = _exporter.Exporter(settings([{"name": "main", "url": simulator.url}], tmp_path, health_textfile_dir=str(textfiles)))
    values = scrape(exporter)[0]
    assert value(values, "comfyui_smoke_success", instance_name="main") == 1.0
    assert value(values, "comfyui_smoke_output_ok", instance_name="main") == 1.0
    assert value(values, "comfyui_smoke_duration_seconds", instance_name="main") > 0.0
    exporter.close()


def test_start_time_is_stable_and_moves_on_restart(start_simulator, tmp_path):
    sim = start_simulator("--cpu")
    pidfile = tmp_path / "main.pid"
    pidfile.write_text("%d\n" % sim.proc.pid)
    exporter = _exporter.Exporter(settings([{"name": "main", "url": sim.url, "pidfile": str(pidfile)}], tmp_path))
    first = value(scrape(exporter)[0], "comfyui_start_time_seconds", instance_name="main")
    assert abs(first - time.time()) < 60
    assert value(scrape(exporter)[0], "comfyui_start_time_seconds", instance_name="main") == first, "the same process: the same value"
    other = start_simulator("--cpu")
    pidfile.write_text("%d\n" % other.proc.pid)
    assert value(scrape(exporter)[0], "comfyui_start_time_seconds", instance_name="main") >= first
    assert value(scrape(exporter)[0], "comfyui_start_time_seconds", instance_name="main") != first or other.proc.pid == sim.proc.pid
    exporter.close()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"instances": [{"name": "../x", "url": "http://127.0.0.1:1"}]}, "instances[0].name"),
        ({"instances": [{"name": "a", "url": "ftp://x"}]}, "instances[0].url"),
        ({"instances": [{"name": "a", "url": "http://127.0.0.1:1"}], "port": 0}, "port"),
        ({"instances": [{"name": "a", "url": "http://127.0.0.1:1"}], "timeout": -1}, "timeout"),
        ({"instances": [{"name": "a", "url": "http://127.0.0.1:1"}], "colour": 1}, "colour"),
        ({"instances": [{"name": "a", "url": "http://127.0.0.1:1"}, {"name": "a", "url": "http://127.0.0.1:2"}]}, "unique"),
        ({"instances": [{"name": "a", "url": "http://127.0.0.1:1", "pidfile": "rel.pid"}]}, "instances[0].pidfile"),
    ],
)
def test_bad_settings_name_the_key(config, message):
    with pytest.raises(_exporter.ExporterConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _exporter.parse_settings(config)


def test_a_torn_state_file_starts_from_zero_with_a_warning(simulator, tmp_path, capsys):
    (tmp_path / "exporter-state.json").write_text('{"instances": {"main": {"prompts": {"succ')
    exporter = _exporter.Exporter(settings([{"name": "main", "url": simulator.url}], tmp_path))
    values = scrape(exporter)[0]
    assert value(values, "comfyui_prompts_total", instance_name="main", outcome="success") == 0.0
    assert "counters start from zero" in capsys.readouterr().err
    exporter.close()


def test_the_command_serves_metrics_and_has_help(simulator, tmp_path):
    launcher = [sys.executable, "-c", "import sys; from ansible_collections.comfyops.comfyui.plugins.module_utils import _exporter; sys.exit(_exporter.main())"]
    env = dict(os.environ, PYTHONPATH=str(REPO / "build" / "collections"))
    shown = subprocess.run([*launcher, "--help"], capture_output=True, text=True, env=env, check=True)
    assert "--instance NAME=URL" in shown.stdout and "cache_seconds" in shown.stdout
    bad = subprocess.run([*launcher, "--instance", "oops"], capture_output=True, text=True, env=env, check=False)
    assert bad.returncode == 2 and "expected NAME=URL" in bad.stderr
    port = free_port()
    proc = subprocess.Popen([*launcher, "--instance", "main=" + simulator.url, "--port", str(port), "--no-gpu"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert "serving http://127.0.0.1:%d/metrics" % port in line
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as answer:
            text = answer.read().decode()
        assert 'comfyui_up{instance_name="main"} 1.0' in text
    finally:
        proc.terminate()
        proc.wait(10)
