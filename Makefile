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

.PHONY: help venv collection-tree pip-bootstrap system-deps demo demo-stop demo-lxd demo-lxd-stop test sanity lint unit integration molecule bench changelog clean ee-context

help:
	@echo "make demo         3-node control plane on LXD VMs against the embedded maas-sim"
	@echo "make test         everything CI runs: lint, sanity, unit, integration, molecule"
	@echo "make demo-lxd     the same on MAAS 4.0 (maas-sim) in direct mode, with real LXD daemons (root)"
	@echo "make demo-stop    stop what a demo left running (demo-lxd-stop: the same)"
	@echo "make sanity|lint|unit|integration|molecule|bench   one part of it"

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
# hold virtual-machine instances, tests/integration/lxdvm.py).
system-deps:
	@missing=""; command -v lxd >/dev/null || missing="$$missing lxd"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v qemu-system-x86_64 >/dev/null || missing="$$missing qemu-system-x86"; \
	[ -e /usr/share/OVMF/OVMF_CODE.fd ] || missing="$$missing ovmf"; \
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

test: lint sanity unit integration molecule

# --- parts ------------------------------------------------------------------

# ansible-test resolves symlinks, so it gets a real copy of the tracked (and new, not ignored) files,
# one per run so that concurrent runs do not remove each other's tree.
SANITY_ARGS ?=
sanity: venv pip-bootstrap
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

integration: venv collection-tree system-deps
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) tests/integration

molecule: venv collection-tree
	cd extensions && PATH=$(BIN):$$PATH $(BIN)/molecule test --all

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
