"""Where a module's task runs: on the controller in the controller's process (the action plugin), elsewhere as the module.

The same tasks run both ways against maas-sim; a task's ``environment`` makes it run as the module (the way a task
delegated to another host, with become or async runs). -vvv shows which: only the module is put on the target.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

from ansible_collections.lxdcp.maas.tests.integration.modules.vm_tasks import vm_task

AWAY = {"LXDCP_TEST_AWAY": "1"}
FROM_ENV = "\"{{ lookup('ansible.builtin.env', 'LXDCP_TEST_KEY') }}\""


def both_ways(tasks):
    """Each task twice: ``<name> here`` (on the controller), then ``<name> module`` (with an environment)."""
    out = []
    for task in tasks:
        out.append(dict(task, name=task["name"] + " here", ignore_errors=True))
        out.append(dict(task, name=task["name"] + " module", environment=AWAY, ignore_errors=True))
    return out


def comparable(result):
    """The result without what differs between two runs of one task: the arguments echoed, the log's timings, and the
    traceback ansible-core 2.17/2.18 add to a module's failure at -vvv (the in-process run has no module to trace)."""
    out = dict((key, value) for key, value in result.items() if key not in ("invocation", "_ansible_no_log", "exception"))
    if "maas_log" in out:
        out["maas_log"] = [re.sub(r"\d+\.\d+ ?s\b", "T", line) for line in out["maas_log"]]
    return out


def test_the_tasks_run_here_with_the_modules_results(playbook):
    tasks = [
        {"name": "hosts", "lxdcp.maas.maas_vmhost_info": {"zones": ["az1"]}},
        {"name": "machines", "lxdcp.maas.maas_machine_info": {"hostname": ["nothing-here"]}},
        {"name": "ips", "lxdcp.maas.maas_static_ip": {"state": "validated", "addresses": [{"address": "10.10.0.50"}]}},
        dict(vm_task(hostname="where-1"), name="compose"),
        dict(vm_task(hostname="bad_name"), name="refused"),
    ]
    run = playbook.run(both_ways(tasks), check=True, verbosity=3)
    assert run.rc == 0, run.stdout[-3000:]
    for task in tasks:
        here, module = run.task(task["name"] + " here"), run.task(task["name"] + " module")
        assert comparable(here) == comparable(module), task["name"]
    assert run.task("compose here")["changed"] is True and run.task("compose here")["actions"][0].startswith("would compose where-1 on ")
    assert run.task("refused here")["failed"] and "bad_name" in run.task("refused here")["msg"]
    assert run.writes == []
    # Only the module runs put a module on the target (-vvv prints each PUT of an AnsiballZ payload).
    sections = run.stdout.split("TASK [")[1:]
    put = dict((section.split("]", 1)[0], "AnsiballZ_" in section) for section in sections)
    for task in tasks:
        assert put[task["name"] + " here"] is False and put[task["name"] + " module"] is True, task["name"]


def test_a_deployment_here_is_the_modules(playbook):
    run = playbook.run([vm_task(hostname="where-2", state="deployed", deploy_wait=True)])
    assert run.ok, run.stdout[-3000:]
    again = playbook.run(both_ways([dict(vm_task(hostname="where-2", state="deployed"), name="again")]))
    here, module = again.task("again here"), again.task("again module")
    assert comparable(here) == comparable(module) and here["changed"] is False and here["machine"]["status"] == "Deployed"
    assert again.writes == [] and here["machine"]["hostname"] == "where-2"


def test_vaulted_keys_and_refused_arguments_as_the_module(playbook, tmp_path):
    """A vaulted api_key is decrypted as for the module (ansible-core 2.17/2.18 hand it over still encrypted) and never
    shown; a refused argument fails with the module's message, warnings and deprecations."""
    password = tmp_path / "vault-password"
    password.write_text("lxdcp-test\n")
    vault = os.path.join(os.path.dirname(playbook.python), "ansible-vault")
    encrypted = subprocess.run([vault, "encrypt_string", "--vault-password-file", str(password), "--name", "api_key",
                                playbook.sim.api_key], capture_output=True, text=True, check=True).stdout
    key = "\n".join("        " + line for line in encrypted.strip().splitlines())
    tasks = []
    for name, args in (("vaulted", "hostname: [nothing-here]\n%s" % key),
                       ("alias and unknown", "zone: [az1]\n        zones: [az2]\n        bogus: 1\n        api_key: %s" % FROM_ENV),
                       ("wrong type", "zone: [az1]\n        timeout: soon\n        api_key: %s" % FROM_ENV)):
        module = "lxdcp.maas.maas_machine_info" if name == "vaulted" else "lxdcp.maas.maas_vmhost_info"
        for where, extra in (("here", ""), ("module", "\n      environment: %s" % json.dumps(AWAY))):
            tasks.append("    - name: %s %s\n      ignore_errors: true%s\n      %s:\n        url: %s\n        %s"
                         % (name, where, extra, module, playbook.sim.url, args))
    path = tmp_path / "vault-playbook.yml"
    path.write_text("- hosts: localhost\n  gather_facts: false\n  tasks:\n" + "\n".join(tasks) + "\n")
    run = playbook.execute(str(path), playbook.options(verbosity=3) + ["--vault-password-file", str(password)],
                           env={"LXDCP_TEST_KEY": playbook.sim.api_key})
    assert run.rc == 0, run.stdout[-3000:]
    for name in ("vaulted", "alias and unknown", "wrong type"):
        here, module = run.task(name + " here"), run.task(name + " module")
        assert comparable(here) == comparable(module), name
    assert not run.task("vaulted here").get("failed") and run.task("vaulted here")["machines"] == []
    refused = run.task("alias and unknown here")
    assert refused["failed"] and refused["msg"].startswith("Unsupported parameters for (lxdcp.maas.maas_vmhost_info) module: bogus")
    assert "Both option zones and its alias zone are set." in " ".join(str(w) for w in refused.get("warnings", []))
    wrong = run.task("wrong type here")["msg"]
    assert "'timeout' is of type" in wrong and "Ansible" not in wrong and "Unsafe" not in wrong, wrong
    secret = playbook.sim.api_key.split(":")[-1]
    assert playbook.sim.api_key not in run.stdout and secret not in run.stdout and secret not in repr(run.data)
