"""Integration tests that run against any MAAS (``make integration-live``), and against a maas-sim of their own otherwise.

They use no ``/_sim/`` control: what a run sent comes from the module's own request log (``maas_log``, -vvv), what
MAAS holds from its API. Every object they create is named with the test's prefix (``maas_target.name``) in the
zone and pool the environment allows, and the ``maas_target`` fixture removes it after the test, passed or failed.
When the target is a maas-sim (an ordinary ``make integration``), its request log confirms that no write was sent.
"""

from __future__ import annotations

import re

import pytest

from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import Playbook

pytestmark = pytest.mark.live

WRITE = re.compile(r"^\+\S+ (POST|PUT|DELETE) /\S* -> ")  # "+0.066s POST /vm-hosts/1/?op=compose -> 200 (attempt 1, ...)"


def _writes(run):
    """The write requests the run's modules logged (``maas_log`` of every task, -vvv)."""
    lines = [line for result in run.results for line in result.get("maas_log", [])]
    assert lines, "no maas_log: run with verbosity 3"
    return [line for line in lines if WRITE.match(line)]


def _no_write(target, run):
    """Nothing was written: per the modules' log, and per maas-sim's request log when the target is one."""
    assert _writes(run) == []
    if target.sim is not None:
        assert run.writes == [], run.write_summary()


def _machines(target, hostname):
    return target.api.ok("GET", "machines/", params={"hostname": hostname})


def test_live_reads_stay_in_the_zone_and_pool(maas_target, tmp_path):
    playbook = Playbook(maas_target, tmp_path)
    run = playbook.run([
        {"name": "hosts", "lxdcp.maas.maas_vmhost_info": {"zones": [maas_target.zone], "pool": maas_target.pool}},
        {"name": "machines", "lxdcp.maas.maas_machine_info": {"zones": [maas_target.zone], "pool": [maas_target.pool]}},
    ], verbosity=3)
    assert run.ok, run.stdout[-3000:]
    hosts = run.task("hosts")["vm_hosts"]
    assert hosts, "no VM host in zone %s, pool %s: the live VM test needs one" % (maas_target.zone, maas_target.pool)
    assert {(host["zone"], host["pool"]) for host in hosts} == {(maas_target.zone, maas_target.pool)}
    assert all(machine["zone"] == maas_target.zone for machine in run.task("machines")["machines"])
    assert not any(result["changed"] for result in run.results)
    _no_write(maas_target, run)


def test_live_vm_life_cycle_is_idempotent_with_an_honest_check_mode(maas_target, tmp_path):
    playbook = Playbook(maas_target, tmp_path)
    hostname = maas_target.name("cp")
    vm = {"hostname": hostname, "cluster": maas_target.prefix, "cores": 1, "memory": "2G", "disks": [{"size": "8G"}],
          "zones": [maas_target.zone], "pool": maas_target.pool}

    def task(**overrides):
        return {"name": "vm", "lxdcp.maas.maas_lxd_vm": dict(vm, **overrides)}

    # --check predicts the VM and sends nothing.
    run = playbook.run(task(), check=True, verbosity=3)
    assert run.ok and run.result["changed"], run.stdout[-3000:]
    _no_write(maas_target, run)
    assert _machines(maas_target, hostname) == []

    # The VM, in the zone and pool, ours.
    run = playbook.run(task(), verbosity=3)
    assert run.ok and run.result["changed"], run.stdout[-3000:]
    assert _writes(run)
    [machine] = _machines(maas_target, hostname)
    assert (machine["zone"]["name"], machine["pool"]["name"]) == (maas_target.zone, maas_target.pool)
    assert {"lxdcp-managed", "lxdcp-cluster-" + maas_target.prefix} <= set(machine["tag_names"])
    assert machine["cpu_count"] == 1 and machine["memory"] == 2048

    # Again: nothing to do, nothing sent.
    run = playbook.run(task(), verbosity=3)
    assert run.ok and not run.result["changed"], run.stdout[-3000:]
    _no_write(maas_target, run)

    # Removal: predicted without a write, then done; again it is a no-op.
    run = playbook.run(task(state="absent"), check=True, verbosity=3)
    assert run.ok and run.result["changed"], run.stdout[-3000:]
    _no_write(maas_target, run)
    assert len(_machines(maas_target, hostname)) == 1
    run = playbook.run(task(state="absent"), verbosity=3)
    assert run.ok and run.result["changed"], run.stdout[-3000:]
    assert _machines(maas_target, hostname) == []
    run = playbook.run(task(state="absent"), verbosity=3)
    assert run.ok and not run.result["changed"], run.stdout[-3000:]
    _no_write(maas_target, run)
