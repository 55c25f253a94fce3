"""The maas_placement lookup's scheduler mode in direct mode: a real lxd-multi-scheduler reading the same VM-capable LXD
daemons that are maas-sim 4.0's LXD hosts, from the same LXD_MULTI_HOSTS list the collection reads."""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scheduler"))

from schedharness import SchedulerProcess  # noqa: E402  pylint: disable=wrong-import-position,import-error

API_KEY = "direct-scheduler-key"


def test_the_scheduler_places_direct_mode_vms_on_the_lxd_hosts(direct, playbook, vm_task, tmp_path):
    zones = {name: "az" + name[len("lxd-az")] for name in direct.hosts}
    # One list for both: the scheduler needs each server's URL; the collection takes the same entries.
    hosts = [dict(entry, host=direct.hosts[entry["name"]].url, zone=zones[entry["name"]]) for entry in direct.entries]
    direct.hosts["lxd-az1-a"].lxc("init", "--empty", "--vm", "busy", "-c", "limits.cpu=2", "-c", "limits.memory=1GiB")
    scheduler = SchedulerProcess(str(tmp_path / "sched"), hosts, {"api_keys": [API_KEY]})
    try:
        options = {"cluster": "prod", "cores": 1, "memory": 1024, "lxd_hosts": hosts, "url": direct.sim.url,
                   "api_key": direct.sim.api_key, "scheduler_url": scheduler.url, "scheduler_api_key": API_KEY}
        arguments = ", ".join("%s=%s" % (key, json.dumps(value)) for key, value in options.items())
        expression = "{{ lookup('lxdcp.maas.maas_placement', 'cp-1', 'cp-2', %s) }}" % arguments
        task = {"name": "plan", "ansible.builtin.set_fact": {"plan": expression}}
        run = playbook.run(task, auth=False)
        assert run.ok, run.stdout[-3000:]
        plan = run.result["ansible_facts"]["plan"]
        assert (plan["via"], plan["source"]) == ("direct", "scheduler")
        placed = {p["hostname"]: p for p in plan["placements"]}
        # The scheduler's default strategy (fewest allocated cores) avoids the busy LXD host.
        assert {p["vm_host"] for p in placed.values()} <= {"lxd-az2-a", "lxd-az3-a"}
        assert sorted(p["zone"] for p in placed.values()) == ["az2", "az3"]
        assert all(p["reason"].startswith("lxd-multi-scheduler:") for p in placed.values())
        # The module takes the scheduler's host as the preferred one, from the same list.
        made = playbook.run(vm_task(hostname="cp-1", cores=1, memory=1024, lxd_hosts=hosts, preferred_vm_host=placed["cp-1"]["vm_host"]))
        assert made.ok, made.result.get("msg")
        assert made.result["machine"]["vm_host"]["name"] == placed["cp-1"]["vm_host"]
    finally:
        scheduler.stop()
