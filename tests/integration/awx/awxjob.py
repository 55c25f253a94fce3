"""Run a job the way AWX does, with ansible-runner: a private data dir, a credential type's injectors, inventory, extra vars.

AWX (``awx/main/tasks/jobs.py``, and ``inject_credential`` of the credential type) prepares a job like this:

* the credential's inputs and the credential type's ``injectors`` give environment variables (and extra vars or
  files), each a Jinja2 template rendered in an immutable sandbox with the inputs as the namespace
  (``render_injectors``); a "safe" copy, with every secret input shown as ``**********``, is what AWX stores and shows;
* a private data directory holds ``env/envvars``, ``env/extravars``, ``env/settings``, ``inventory/`` and
  ``project/`` (the job template's project: here a playbook importing ``lxdcp.maas.control_plane``);
* ansible-runner runs ``ansible-playbook`` there and writes every job event to ``artifacts/<ident>/job_events/``.
"""

from __future__ import annotations

import os
import sys

import ansible_runner
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
CREDENTIAL_TYPE = os.path.join(ROOT, "extensions", "awx", "credential_type.yml")
COLLECTIONS = os.path.join(ROOT, "collections")
HIDDEN = "**********"  # what AWX shows in place of a secret input


def credential_type(path=CREDENTIAL_TYPE):
    """The credential type definition (``name``, ``inputs``, ``injectors``)."""
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def render_injectors(definition, inputs):
    """``(env, safe_env, extra_vars)`` of a credential with ``inputs`` of the credential type ``definition``.

    Fails (``ValueError``) on a missing required input or an input the type does not define, as AWX refuses to save
    such a credential.
    """
    fields = {field["id"]: field for field in definition["inputs"]["fields"]}
    unknown = sorted(set(inputs) - set(fields))
    missing = sorted(name for name in definition["inputs"].get("required", []) if not inputs.get(name))
    if unknown or missing:
        raise ValueError("credential inputs: unknown %s, missing %s" % (unknown, missing))
    secret = {name for name, field in fields.items() if field.get("secret")}
    namespace = {name: value for name, value in inputs.items() if value not in (None, "")}
    safe_namespace = {name: (HIDDEN if name in secret else value) for name, value in namespace.items()}
    sandbox = ImmutableSandboxedEnvironment()
    injectors = definition.get("injectors") or {}
    if injectors.get("file"):
        raise ValueError("file injectors are not rendered here")
    env, safe_env = {}, {}
    for name, template in (injectors.get("env") or {}).items():
        env[name] = sandbox.from_string(template).render(**namespace)
        safe_env[name] = sandbox.from_string(template).render(**safe_namespace)
    extra_vars = {name: sandbox.from_string(template).render(**namespace)
                  for name, template in (injectors.get("extra_vars") or {}).items()}
    return env, safe_env, extra_vars


def write_private_data_dir(path, playbook_import, inventory, env, extra_vars):
    """Lay out an AWX-style private data dir at ``path``; the project's ``site.yml`` imports ``playbook_import``."""
    for sub in ("env", "inventory", "project"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    envvars = dict(env)
    # The job's execution environment has the collection installed; here the working tree is the collection.
    envvars.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
                   ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="false",
                   ANSIBLE_HOME=os.path.join(path, ".ansible"), ANSIBLE_PIPELINING="true",
                   # ansible-playbook of this virtualenv, as the execution environment's is first on its PATH.
                   PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", os.defpath)]))
    files = {
        os.path.join("env", "envvars"): envvars,
        os.path.join("env", "extravars"): extra_vars,
        # What AWX writes: no pexpect idle timeout, job events with the whole result of each task.
        os.path.join("env", "settings"): {"idle_timeout": 0, "job_timeout": 0, "pexpect_timeout": 5, "suppress_ansible_output": False},
        os.path.join("inventory", "hosts.yml"): inventory,
        os.path.join("project", "site.yml"): [{"name": "Job template playbook", "ansible.builtin.import_playbook": playbook_import}],
    }
    for name, data in files.items():
        with open(os.path.join(path, name), "w", encoding="utf-8") as handle:
            yaml.safe_dump(data, handle, sort_keys=False)
    os.chmod(os.path.join(path, "env", "envvars"), 0o600)


def run_job(path, ident, verbosity=0, timeout=600):
    """Run ``project/site.yml`` of the private data dir at ``path`` with ansible-runner; return the ``Runner``."""
    return ansible_runner.run(private_data_dir=path, playbook="site.yml", ident=ident, verbosity=verbosity, quiet=True,
                              timeout=timeout)


def stats(runner):
    """The ``event_data`` of the run's ``playbook_on_stats`` event (``ok``, ``changed``, ``failures``... per host)."""
    found = [event["event_data"] for event in runner.events if event.get("event") == "playbook_on_stats"]
    assert len(found) == 1, [event.get("event") for event in runner.events]
    return found[0]
