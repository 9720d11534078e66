# comfyops.comfyui: one entry point for building and testing the collection.
#   make test      everything CI runs: lint, unit and system (under coverage), coverage, sanity, build, docs, molecule
#   make check     the fast tier for the edit-test loop (under 5 min): lint, unit tests but the slow ones, one system smoke
#   make coverage  unit and system tests under coverage.py: build/coverage/html, the total for plugins/ against the floor
#   make lint      ruff + mypy --strict (module_utils) + ansible-lint (production profile)
#   make unit      pytest units (the simulator and module_utils, over real loopback HTTP)
#   make system    pytest system tests: the playbooks run on this machine (standalone, loopback only)
#   make sanity    ansible-test sanity on an ansible_collections/comfyops/comfyui copy
#   make build     ansible-galaxy collection build + install into a scratch path + FQCN smoke
#   make docs      the docs site (antsibull-docs + Sphinx, warnings are errors) in build/docs/html
#   make molecule  every molecule scenario on real systemd test hosts (Docker)
#   make molecule SCENARIO=testbed   one scenario
#   make k8s-test  opt-in: kubernetes.yml against a real control plane on loopback (built once, ~10 min)
#   make demo      deploy the ComfyUI API simulator to this machine through deploy.yml (CPU, no systemd)
#   make demo-clean  stop it and remove ./demo
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
# Python keeps its bytecode caches (.pyc). This machine kind's environment sets PYTHONDONTWRITEBYTECODE=1, and the venv
# is filled with --no-compile: every ansible-playbook, pytest, molecule and coverage-started process then compiled every
# module it imported again, each time (a one-task playbook took 2.3 s of CPU instead of 1.7 s; a fresh clone's venv held
# no .pyc of ansible at all). The first process to import a module now writes its cache; the rest read it.
export PYTHONDONTWRITEBYTECODE :=
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
REQS := requirements.txt requirements/runtime.txt requirements/dev.txt
STAMP := $(VENV)/.installed-$(shell cat $(REQS) 2>/dev/null | sha256sum | cut -c1-12)
COLLECTIONS := $(CURDIR)/build/collections
LINK := $(COLLECTIONS)/ansible_collections/comfyops/comfyui
SANITY_ROOT := $(CURDIR)/build/sanity/ansible_collections/comfyops/comfyui
SANITY_VENV := $(CURDIR)/.cache/sanity-venv
SANITY_STAMP := $(SANITY_VENV)/.installed-$(shell cat requirements/runtime.txt 2>/dev/null | sha256sum | cut -c1-12)
SANITY_ARGS ?=
SCENARIO ?=
PYTEST_ARGS ?=
# unit and system tests run on this many workers (pytest-xdist), a test module per worker, so a module's fixtures
# stay whole and its tests never run at once; PYTEST_WORKERS=0 runs them in this process. Three on two cores: the tests
# wait on servers (a simulator starts in 12 s, as ComfyUI does) as much as they compute.
PYTEST_WORKERS ?= 3
XDIST = $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile)
# COVERAGE=1 (make test, make coverage): pytest and what it starts run under coverage.py, data in build/coverage/data
COVERAGE ?=
PYTEST = $(if $(COVERAGE),COVERAGE_FILE=$(CURDIR)/build/coverage/data/.coverage $(BIN)/python -m coverage run -m pytest,$(BIN)/python -m pytest)
# every scenario but the test-bed probe (testbed: the hosts themselves work; the other scenarios need that too):
# run it with make molecule SCENARIO=testbed
MOLECULE_EXCLUDE ?= testbed
# the scenarios of make molecule, longest first, run MOLECULE_LANES at a time (tests/testbed/molecule-lanes.sh); the
# simulator's git repository that their prepare steps share is made once, before them
MOLECULE_ORDER ?= deploy monitoring containers proxy backup validate health testbed
MOLECULE_LANES ?= 3

export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export MOLECULE_GLOB := molecule/*/molecule.yml


.PHONY: help venv link test check coverage coverage-report lint ruff mypy ansible-lint gpu-test k8s-test unit system sanity build docs molecule demo demo-clean clean

help:
	@sed -n '1,15p' Makefile | sed 's/^# \{0,1\}//'

venv: $(STAMP) link

# The virtual environment is made and filled only when the requirement files change.
$(STAMP): $(REQS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-compile -r requirements/dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

# Ansible finds this checkout as the collection comfyops.comfyui through a link.
link:
	@mkdir -p $(dir $(LINK))
	@test -L $(LINK) || ln -sfn $(CURDIR) $(LINK)

# Each stage's wall time is printed as it ends against its budget (seconds on this machine kind, 2 cores; tests/README.md
# keeps the table with the last measured times), and all of them at the end. A stage over its budget is said, not failed.
# Stages joined by + run at once (tests/stages.sh), where one leaves a core idle that the other can use: lint, sanity,
# build and docs are one process each most of the time, and the unit tests wait on servers and restic; the coverage
# report runs beside molecule. The system tests keep both cores busy on their own (measured: no idle time).
TEST_STAGES ?= lint:150+sanity:240+build:90+docs:120+unit:330 system:630 coverage-report:30+molecule:1080
test: venv
	@rm -rf build/coverage
	@tests/stages.sh "$(MAKE)" $(TEST_STAGES)

# The fast tier for the edit-test loop: lint, the unit tests but those marked slow, one system smoke test (a deploy
# from a checksummed archive, gated and serving). Under 5 minutes here (224 s measured); make test runs everything.
check: venv
	@t0=$$(date +%s); \
	$(MAKE) --no-print-directory lint; \
	$(MAKE) --no-print-directory unit PYTEST_ARGS='-m "not slow" $(PYTEST_ARGS)'; \
	$(BIN)/python -m pytest tests/system/test_deploy_standalone.py -p no:randomly -k test_a_checksummed_archive_deploys_and_serves $(PYTEST_ARGS); \
	echo "make check: passed in $$(( $$(date +%s) - t0 )) s"

# Coverage: the unit and system tests run under coverage.py, and so does every Python process they start (patch =
# subprocess, fork, _exit in pyproject.toml): ansible-playbook, its workers (filters, lookups, callbacks) and the
# modules it runs on this machine from their AnsiballZ payloads, mapped back onto plugins/. The floor is
# [tool.coverage.report] fail_under in pyproject.toml.
COVERAGE_DIR := $(CURDIR)/build/coverage
coverage: venv
	@rm -rf $(COVERAGE_DIR)
	$(MAKE) --no-print-directory unit system COVERAGE=1
	$(MAKE) --no-print-directory coverage-report

coverage-report: export COVERAGE_FILE = $(COVERAGE_DIR)/.coverage
coverage-report: venv
	@cd $(CURDIR) && $(BIN)/python -m coverage combine -q $(COVERAGE_DIR)/data 2>/dev/null || true
	@$(BIN)/python -m coverage html -q -d $(COVERAGE_DIR)/html --title "comfyops.comfyui plugins/ (make coverage)" || true
	@$(BIN)/python -m coverage report --sort=cover --fail-under=0 >$(COVERAGE_DIR)/report.txt; head -n 12 $(COVERAGE_DIR)/report.txt; tail -n 1 $(COVERAGE_DIR)/report.txt
	@echo "coverage: HTML report per file in $(COVERAGE_DIR)/html/index.html (make coverage: unit and system tests)"
	@$(BIN)/python -m coverage report --format=total >/dev/null || { \
	  echo "coverage: plugins/ at $$($(BIN)/python -m coverage report --format=total --fail-under=0)% of lines, under the floor of $$(sed -n 's/^fail_under = //p' pyproject.toml)% (pyproject.toml)"; exit 1; }
	@echo "coverage: plugins/ at $$($(BIN)/python -m coverage report --format=total)% of lines (floor $$(sed -n 's/^fail_under = //p' pyproject.toml)%)"

lint: ruff mypy ansible-lint

ruff: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# module_utils under mypy --strict (pyproject.toml lists the modules not yet typed), as Ansible imports them.
mypy: venv
	cd $(COLLECTIONS) && $(BIN)/mypy --config-file $(CURDIR)/pyproject.toml -p ansible_collections.comfyops.comfyui.plugins.module_utils

# molecule installs a built copy of this collection into ~/.ansible/collections, which
# ansible-lint searches first: drop that stale copy so lint reads the checkout.
ansible-lint: venv
	rm -rf $(HOME)/.ansible/collections/ansible_collections/comfyops/comfyui
	$(BIN)/ansible-lint --profile production --offline

unit: venv
	@tests/testbed/ensure-packages.sh redis-server:redis-server prometheus-alertmanager:prometheus-alertmanager restic:restic promtool:prometheus docker-compose:docker-compose nginx:nginx
	@APT_NO_RECOMMENDS=1 tests/testbed/ensure-packages.sh chromium-headless-shell:chromium-headless-shell
	@mkdir -p build/coverage/data
	$(PYTEST) tests/unit $(XDIST) --durations=15 $(PYTEST_ARGS)

# The safety tests run the server as `nobody` from a venv of Debian's /usr/bin/python3 (pyenv's lives under /root).
# Opt-in, on a host with an NVIDIA GPU: the NVML code against the real driver (skipped, and said so, without one).
gpu-test: venv
	$(BIN)/python -m pytest tests/gpu -rs $(PYTEST_ARGS)

# Opt-in (not in make test: the control plane takes ~10 min to build on a fresh machine): playbooks/kubernetes.yml
# applies, rolls out and rolls back against etcd, kube-apiserver and kube-controller-manager on loopback, built once
# from Debian's kubernetes source; the test plays the kubelet.
k8s-test: venv link
	tests/testbed/kube-control-plane.sh
	$(BIN)/python -m pytest tests/k8s -rs $(PYTEST_ARGS)

system: venv
	@/usr/bin/python3 -c 'import ensurepip' 2>/dev/null || tests/testbed/ensure-packages.sh no-such-command:python3-venv
	@tests/testbed/ensure-packages.sh runuser:util-linux prometheus-alertmanager:prometheus-alertmanager restic:restic prometheus:prometheus prometheus-node-exporter:prometheus-node-exporter
	@mkdir -p build/coverage/data
	$(PYTEST) tests/system $(XDIST) $(if $(XDIST),--no-loadscope-reorder) --durations=15 $(PYTEST_ARGS)

# ansible-test must run from inside an ansible_collections/<ns>/<name> tree:
# copy the files git knows (tracked, or untracked and not ignored) there.
sanity: venv $(SANITY_STAMP)
	@tests/testbed/ensure-packages.sh shellcheck:shellcheck
	@rm -rf $(SANITY_ROOT) && mkdir -p $(SANITY_ROOT)
	@git ls-files -co --exclude-standard | tar -c -T - -f - | tar -x -C $(SANITY_ROOT)
	@cd $(SANITY_ROOT) && git init -q && git add -A
	@pip_version=$$(sed -n "s/.*pip='\([0-9.]*\)'.*/\1/p" $(SANITY_VENV)/lib/python3.11/site-packages/ansible_test/_internal/python_requirements.py); \
	  mkdir -p $(HOME)/.ansible/test/cache && cp tests/sanity/get_pip_standin.py $(HOME)/.ansible/test/cache/get_pip_$${pip_version//./_}.py
	cd $(SANITY_ROOT) && $(SANITY_VENV)/bin/ansible-test sanity --local --python 3.11 --requirements --color no $(SANITY_ARGS)

# ansible-test's own --venv mode downloads a pip bootstrap script from a host we cannot
# reach, so sanity runs --local in a venv of its own, where --requirements installs the
# pinned tools each sanity test needs (kept apart from the lint tools of .venv).
$(SANITY_STAMP): requirements/runtime.txt
	@test -x $(SANITY_VENV)/bin/python || $(PYTHON) -m venv $(SANITY_VENV)
	$(SANITY_VENV)/bin/python -m pip install -q --disable-pip-version-check $$(grep -E '^ansible-core==' requirements/runtime.txt)
	@rm -f $(SANITY_VENV)/.installed-* && touch $@

build: venv
	@rm -rf build/dist build/installed && mkdir -p build/dist build/installed
	$(BIN)/ansible-galaxy collection build --force --output-path build/dist .
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/build/installed $(BIN)/ansible-galaxy collection install --offline --no-deps --force -p build/installed build/dist/comfyops-comfyui-*.tar.gz
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/build/installed $(BIN)/ansible-doc -l comfyops.comfyui
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/build/installed $(BIN)/python tests/build/check_installed.py $(CURDIR)/build/installed

# The docs site: antsibull-docs writes the modules', plugins' and roles' pages (roles from their argument specs),
# the guides (README, runbooks) come in as Markdown (docs/site/assemble.py); Sphinx turns any warning into a failure.
# Nothing is fetched.
DOCS := $(CURDIR)/build/docs
docs: venv
	@rm -rf $(DOCS) && mkdir -p $(DOCS)/site/rst && chmod og-w $(DOCS)/site/rst
	$(BIN)/antsibull-docs lint-collection-docs --plugin-docs --skip-rstcheck .
	$(BIN)/antsibull-docs collection --use-current --squash-hierarchy --fail-on-error --dest-dir $(DOCS)/site/rst comfyops.comfyui
	$(BIN)/python docs/site/assemble.py $(CURDIR) $(DOCS)/site
	$(BIN)/sphinx-build -W --keep-going -q -c docs/site $(DOCS)/site/rst $(DOCS)/html
	@echo "docs: $(DOCS)/html/index.html"

molecule: venv
	@tests/testbed/ensure-packages.sh prometheus-alertmanager:prometheus-alertmanager
	tests/testbed/base-image.sh >/dev/null
	@tests/testbed/apt-repo.sh /var/tmp/comfyops-apt --image comfyops-test/debian:bookworm \
	  restic prometheus prometheus-alertmanager prometheus-node-exporter prometheus-redis-exporter redis-server \
	  nginx python3-cryptography python3-docker python3-requests docker-compose
	@tests/testbed/wheels.sh /var/tmp/comfyops-wheels
	@mkdir -p /var/tmp/comfyops-molecule-backup /var/tmp/comfyops-ct
	@missing=$$(cd molecule && ls -d */ | tr -d / | grep -vxF -f <(tr ' ' '\n' <<<"$(MOLECULE_ORDER)") || true); \
	  [ -z "$$missing" ] || { echo "make molecule: scenarios missing from MOLECULE_ORDER: $$missing" >&2; exit 1; }
	@comfyui-simulator/tools/make-git-repo.sh /opt/comfyops-sim/ComfyUI >/dev/null
	@if [ -n "$(SCENARIO)" ]; then \
	  $(BIN)/molecule test -s $(SCENARIO); \
	else \
	  tests/testbed/molecule-lanes.sh $(MOLECULE_LANES) $(filter-out $(MOLECULE_EXCLUDE),$(MOLECULE_ORDER)); \
	fi

DEMO := $(CURDIR)/demo
demo: venv
	@comfyui-simulator/tools/make-git-repo.sh $(DEMO)/ComfyUI >/dev/null
	COMFYOPS_DEMO_ROOT=$(DEMO) $(BIN)/ansible-playbook -i inventories/demo playbooks/deploy.yml
	COMFYOPS_DEMO_ROOT=$(DEMO) $(BIN)/ansible-playbook -i inventories/demo playbooks/monitoring.yml
	@COMFYOPS_DEMO_ROOT=$(DEMO) $(BIN)/ansible-playbook -i inventories/demo playbooks/health.yml \
	  -e comfyui_health_report_dir=$(DEMO)/reports \
	  -e '{"comfyui_health_options": {"service_manager": "standalone", "textfile_dir": "$(DEMO)/monitoring/textfile"}}' \
	  -e '{"comfyui_health_instances": [{"name": "default", "url": "http://127.0.0.1:8188", "pidfile": "$(DEMO)/srv/run/default.pid", "output_dir": "$(DEMO)/srv/shared/output"}]}' >$(DEMO)/health.log
	@echo "ComfyUI (the comfyops API simulator) serves at http://127.0.0.1:8188 from $(DEMO)/srv/current"
	@echo "Monitoring (standalone, on loopback; $(DEMO)/monitoring/bin/comfyops-monctl status):"
	@echo "  ComfyUI exporter  http://127.0.0.1:9188/metrics"
	@echo "  node_exporter     http://127.0.0.1:9100/metrics"
	@echo "  Prometheus        http://127.0.0.1:9090  (alert rules: http://127.0.0.1:9090/alerts)"
	@echo "  Alertmanager      http://127.0.0.1:9093"
	@echo "  Grafana           not installed: no package source here (the role installs it from Grafana's apt repository)"
	@sed -n '3,$$p' $(DEMO)/reports/health.md

demo-clean: venv
	@if [ -d $(DEMO)/srv ]; then COMFYOPS_DEMO_ROOT=$(DEMO) $(BIN)/ansible-playbook -i inventories/demo playbooks/shutdown.yml; fi
	@if [ -x $(DEMO)/monitoring/bin/comfyops-monctl ]; then $(DEMO)/monitoring/bin/comfyops-monctl stop; fi
	rm -rf $(DEMO)

clean:
	rm -rf build .cache .pytest_cache .ruff_cache
