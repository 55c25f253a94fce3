"""Where a module's task runs: on the controller in the controller's process (the action plugin), elsewhere as the module.

The same tasks run both ways against maas-sim; a task's ``environment`` makes it run as the module (the way a task
delegated to another host, with become or async runs). -vvv shows which: only the module is put on the target.
"""

from __future__ import annotations

import re

from ansible_collections.lxdcp.maas.tests.integration.modules.vm_tasks import vm_task

AWAY = {"LXDCP_TEST_AWAY": "1"}


def both_ways(tasks):
    """Each task twice: ``<name> here`` (on the controller), then ``<name> module`` (with an environment)."""
    out = []
    for task in tasks:
        out.append(dict(task, name=task["name"] + " here", ignore_errors=True))
        out.append(dict(task, name=task["name"] + " module", environment=AWAY, ignore_errors=True))
    return out


def comparable(result):
    """The result without what differs between two runs of one task: the arguments echoed, the log's timings."""
    out = dict((key, value) for key, value in result.items() if key not in ("invocation", "_ansible_no_log"))
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
