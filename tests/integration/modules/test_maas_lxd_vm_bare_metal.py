"""maas_lxd_vm in bare-metal mode against maas-sim with Ready machines of its own."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import sim_machines
from simharness import SimServer, default_scenario_path  # pylint: disable=import-error

MODULE = "lxdcp.maas.maas_lxd_vm"
BARE = {"hostname": "cp-4", "provisioning_mode": "bare-metal", "cluster": "prod", "cores": 8, "memory": "16G"}


@pytest.fixture
def bare(sim_factory, sim_playbook):
    """A maas-sim with three Ready bare-metal machines (one per zone) and a playbook runner bound to it."""
    with open(default_scenario_path(), encoding="utf-8") as handle:
        scenario = yaml.safe_load(handle)
    scenario["machines"] = list(scenario.get("machines") or []) + [
        {"hostname": "node-%d" % zone, "zone": "az%d" % zone, "cpu_count": 16, "memory": 65536, "disks": ["500G"],
         "status": "ready", "power_type": "ipmi", "tags": ["control-plane"]}
        for zone in (1, 2, 3)
    ]
    sim = sim_factory(scenario=scenario, timings=SimServer.FAST_TIMINGS)
    return sim, sim_playbook(sim)


def task(**overrides):
    args = dict(BARE)
    args.update(overrides)
    return {"name": "bare metal", MODULE: args}


def test_allocate_deploy_idempotent(bare):
    sim, playbook = bare
    first = playbook.run(task(state="deployed", zone=["az2"], host_tags=["control-plane"]))
    assert first.ok, first.result.get("msg")
    machine = first.result["machine"]
    assert machine["hostname"] == "cp-4" and machine["status"] == "Deployed" and machine["zone"] == "az2"
    assert first.result["provider_id"] == "maas://az2/%s" % machine["system_id"]
    assert {"lxdcp-managed", "lxdcp-cluster-prod"} <= set(machine["tags"])
    assert [m["system_id"] for m in sim_machines(sim, "cp-4")] == [machine["system_id"]]
    again = playbook.run(task(state="deployed", zone=["az2"], host_tags=["control-plane"]))
    assert again.ok and again.result["changed"] is False and again.writes == [], again.write_summary()


def test_check_mode_predicts_the_machine(bare):
    _sim, playbook = bare
    checked = playbook.run(task(zone=["az3"]), check=True)
    assert checked.ok and checked.writes == []
    assert checked.result["actions"][0].startswith("would allocate node-3")


def test_absent_releases_untags_and_keeps_the_record(bare):
    sim, playbook = bare
    created = playbook.run(task(state="deployed", zone=["az1"]))
    system_id = created.result["machine"]["system_id"]
    removed = playbook.run(task(state="absent"))
    assert removed.ok and removed.result["changed"] is True, removed.result.get("msg")
    record = next(m for m in sim_machines(sim) if m["system_id"] == system_id)
    assert record["status"] == 4 and "lxdcp-managed" not in removed.result["machine"]["tags"]
    again = playbook.run(task(state="absent"))
    assert again.result["changed"] is False and again.writes == []


def test_no_matching_machine_reports_maas_answer(bare):
    _sim, playbook = bare
    run = playbook.run(task(cores=64, zone=["az1"]))
    assert not run.ok
    assert "No bare-metal machine can be allocated for cp-4: az1: MAAS refused POST /machines/?op=allocate: 409" in run.result["msg"]
