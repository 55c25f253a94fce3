# lxdcp.maas: every target is self-sufficient on a fresh machine (it creates .venv first).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# ansible-test needs the collection at ansible_collections/<namespace>/<name>/.
COLLECTION_TREE := collections/ansible_collections/lxdcp/maas
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/collections
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := false
export PATH := $(BIN):$(PATH)
PYTEST_WORKERS ?= 2

.PHONY: help venv collection-tree pip-bootstrap system-deps demo demo-stop demo-lxd demo-lxd-stop test sanity lint unit integration molecule core-matrix docs bench changelog clean ee-context integration-live integration-live-sim

help:
	@echo "make demo         3-node control plane on LXD VMs against the embedded maas-sim"
	@echo "make test         everything CI runs: lint, sanity, unit, integration, integration-live-sim, molecule, core-matrix, docs"
	@echo "make demo-lxd     the same on MAAS 4.0 (maas-sim) in direct mode, with real LXD daemons (root)"
	@echo "make demo-stop    stop what a demo left running (demo-lxd-stop: the same)"
	@echo "make docs         the collection's HTML documentation (antsibull-docs + Sphinx) in build/docsite/html"
	@echo "make core-matrix  the module and main-job integration subset on every supported ansible-core"
	@echo "make sanity|lint|unit|integration|molecule|bench   one part of it"
	@echo "make integration-live   the live tests against the MAAS of MAAS_URL/MAAS_API_KEY (docs/design.md; LXDCP_LIVE_OK=yes)"
	@echo "make integration-live-sim   the same against a maas-sim without /_sim/, checking nothing is left (in make test)"
	@echo "make ee-context   the execution environment's build context (ansible-builder create, docs/awx.md)"

# --- environment ------------------------------------------------------------

venv: $(VENV)/.installed

$(VENV)/.installed: requirements/dev.txt requirements/constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/dev.txt -c requirements/constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

collection-tree: $(COLLECTION_TREE)

$(COLLECTION_TREE):
	mkdir -p $(dir $(COLLECTION_TREE))
	ln -sfn ../../.. $(COLLECTION_TREE)

# ansible-test bootstraps pip in its venvs with a get-pip.py it downloads from a host that is
# not a package registry; offline it finds this stand-in in its cache instead.
pip-bootstrap: venv
	@ver=$$($(BIN)/python -c 'import re, ansible_test, pathlib; p = pathlib.Path(ansible_test.__file__).parent / "_internal/python_requirements.py"; print(re.search(r"pip=.([0-9.]+).", p.read_text()).group(1))'); \
	dest=$$HOME/.ansible/test/cache/get_pip_$${ver//./_}.py; \
	if [ ! -f "$$dest" ]; then mkdir -p "$$(dirname "$$dest")"; \
	  printf '%s\n' \
	    '"""Offline stand-in for get-pip.py (written by the lxdcp.maas Makefile)."""' \
	    'import subprocess' \
	    'import sys' \
	    'args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]' \
	    'subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])' \
	    'subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet"] + args)' \
	    > "$$dest"; echo "wrote $$dest"; fi

# Debian packages the integration tests use (real LXD daemons, a real redis-server; qemu and OVMF let LXD
# hold virtual-machine instances, tests/integration/lxdvm.py), and shellcheck, which ansible-test sanity runs on scripts/.
system-deps:
	@missing=""; command -v lxd >/dev/null || missing="$$missing lxd"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v qemu-system-x86_64 >/dev/null || missing="$$missing qemu-system-x86"; \
	[ -e /usr/share/OVMF/OVMF_CODE.fd ] || missing="$$missing ovmf"; \
	command -v shellcheck >/dev/null || missing="$$missing shellcheck"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "not root or no apt-get: tests needing$$missing will be skipped"; fi; fi

# --- the two commands of the README -----------------------------------------

demo: venv collection-tree
	$(BIN)/python scripts/demo.py

demo-stop: venv
	$(BIN)/python scripts/demo.py --stop

# Direct mode (MAAS 4.0 has no VM hosts): the LXD daemons come from the integration tests' harness (docs/design.md).
demo-lxd: venv collection-tree system-deps
	$(BIN)/python scripts/demo.py --lxd

demo-lxd-stop: demo-stop

test: lint sanity unit integration integration-live-sim molecule core-matrix docs

# --- parts ------------------------------------------------------------------

# ansible-test resolves symlinks, so it gets a real copy of the tracked (and new, not ignored) files,
# one per run so that concurrent runs do not remove each other's tree.
SANITY_ARGS ?=
sanity: venv pip-bootstrap system-deps
	@set -e; base=$$(mktemp -d $(CURDIR)/.ansible/sanity.XXXXXX 2>/dev/null || { mkdir -p $(CURDIR)/.ansible && mktemp -d $(CURDIR)/.ansible/sanity.XXXXXX; }); \
	tree=$$base/ansible_collections/lxdcp/maas; mkdir -p $$tree; \
	git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C $$tree; \
	cd $$tree && git init -q && git add -A; \
	echo "ansible-test sanity in $$tree"; \
	status=0; $(BIN)/ansible-test sanity --venv --python 3.11 --color no $(SANITY_ARGS) || status=$$?; \
	if [ $$status -eq 0 ]; then rm -rf $$base; else echo "results kept in $$tree/tests/output"; fi; exit $$status

lint: venv collection-tree
	$(BIN)/ansible-lint --profile production
	$(BIN)/antsibull-docs lint-collection-docs --plugin-docs .
	$(BIN)/antsibull-changelog lint

unit: venv collection-tree
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) tests/unit

# The molecule scenarios (tests/integration/test_molecule.py, marker molecule) run in `make molecule`.
integration: venv collection-tree system-deps
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) -m "not molecule" tests/integration

# Live-MAAS tests (docs/design.md, "Live-MAAS tests"): the tests marked `live` against the MAAS of MAAS_URL and
# MAAS_API_KEY (or MAAS_ENDPOINT and MAAS_APIKEY), creating lxdcp-live-* objects in LXDCP_LIVE_ZONE and LXDCP_LIVE_POOL
# and removing them; LXDCP_LIVE_OK=yes confirms the target. Tests that drive maas-sim's /_sim/ skip or are deselected.
integration-live: venv collection-tree
	@if [ "$$LXDCP_LIVE_OK" != yes ]; then \
	  echo "integration-live: refusing to start: set LXDCP_LIVE_OK=yes to confirm that the tests may create and delete lxdcp-live-* machines in zone '$$LXDCP_LIVE_ZONE', pool '$$LXDCP_LIVE_POOL' of '$${MAAS_URL:-$$MAAS_ENDPOINT}'" >&2; exit 2; fi
	LXDCP_LIVE=1 $(BIN)/python -m pytest -q -n 0 -m live tests/integration

# CI's live run: a maas-sim started here with its admin API off (/_sim/ answers 404) stands in for a live MAAS;
# tests/integration/live.py lists what MAAS holds before and after `make integration-live` and fails on leftovers.
integration-live-sim: venv collection-tree
	@set -e; dir=$$(mktemp -d); \
	$(BIN)/maas-sim --port 0 --no-admin-api --ready-file $$dir/url >$$dir/log 2>&1 & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; rm -rf $$dir' EXIT; \
	for i in $$(seq 300); do [ -s $$dir/url ] && break; kill -0 $$pid 2>/dev/null || { cat $$dir/log; exit 1; }; sleep 0.1; done; \
	url=$$(cat $$dir/url); echo "maas-sim without admin API at $$url"; \
	export MAAS_URL=$$url MAAS_API_KEY=lxdcp:sim-token:sim-secret LXDCP_LIVE_ZONE=az1 LXDCP_LIVE_POOL=default LXDCP_LIVE_OK=yes; \
	$(BIN)/python tests/integration/live.py no-admin-api; \
	$(BIN)/python tests/integration/live.py snapshot $$dir/before.json; \
	$(MAKE) --no-print-directory integration-live; \
	$(BIN)/python tests/integration/live.py compare $$dir/before.json

# Each scenario of extensions/molecule/ is one pytest test (pytest-ansible's molecule_scenario), run side by side.
molecule: venv collection-tree
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) -p pytest-ansible tests/integration/test_molecule.py

# meta/runtime.yml's requires_ansible, tested: one venv per ansible-core (latest patch of each supported minor)
# with only the collection's runtime requirements; the tests listed in tests/integration/core_matrix.txt run
# with that venv's ansible-playbook and Python as the controller (LXDCP_ANSIBLE_PYTHON, playbook_runner.py),
# the harness (pytest, maas-sim) from .venv. The three cores run at once.
CORE_VERSIONS ?= 2.17.14 2.18.19 2.19.14
CORE_VENVS := $(VENV)/cores
RUNTIME_PINS := requests|requests-oauthlib|oauthlib|netaddr|urllib3|idna|certifi|charset-normalizer

$(CORE_VENVS)/%/.installed: requirements.txt requirements/constraints.txt
	rm -rf $(CORE_VENVS)/$*
	$(PYTHON) -m venv $(CORE_VENVS)/$*
	$(CORE_VENVS)/$*/bin/python -m pip install --quiet ansible-core==$* -r requirements.txt \
	  -c <(grep -iE '^($(RUNTIME_PINS))==' requirements/constraints.txt)
	touch $@

core-matrix: venv collection-tree $(foreach v,$(CORE_VERSIONS),$(CORE_VENVS)/$(v)/.installed)
	@set -e; logs=$$(mktemp -d); tests=$$(grep -v '^#' tests/integration/core_matrix.txt); \
	for v in $(CORE_VERSIONS); do \
	  ( rc=0; LXDCP_ANSIBLE_PYTHON=$(CURDIR)/$(CORE_VENVS)/$$v/bin/python $(BIN)/python -m pytest -q -n 0 $$tests \
	      > $$logs/$$v.log 2>&1 || rc=$$?; echo $$rc > $$logs/$$v.rc ) & \
	done; wait; status=0; \
	for v in $(CORE_VERSIONS); do \
	  echo "== ansible-core $$v"; cat $$logs/$$v.log; [ "$$(cat $$logs/$$v.rc)" = 0 ] || status=1; \
	done; rm -rf $$logs; exit $$status

# The docsite: antsibull-docs sphinx-init + build (scripts/docsite.sh); warnings fail it. Output in build/docsite.
docs: venv collection-tree
	scripts/docsite.sh $(CURDIR)/build/docsite

bench: venv collection-tree
	$(BIN)/python benchmarks/run.py --write docs/benchmarks.md

changelog: venv
	$(BIN)/antsibull-changelog release

clean:
	rm -rf $(VENV) collections tests/output .pytest_cache .hypothesis

# The execution environment's build context (extensions/ee/): the definition staged with the collection built from
# this checkout, then `ansible-builder create` (no container engine needed; `ansible-builder build` needs one).
EE_BUILD ?= build/ee
ee-context: venv collection-tree
	rm -rf $(EE_BUILD) && mkdir -p $(EE_BUILD)
	cp extensions/ee/execution-environment.yml extensions/ee/requirements.yml requirements.txt $(EE_BUILD)/
	$(BIN)/ansible-galaxy collection build --force --output-path $(EE_BUILD) .
	cd $(EE_BUILD) && $(BIN)/ansible-builder create --file execution-environment.yml --context context --output-filename Containerfile
