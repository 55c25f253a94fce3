"""maas_lxd_vm in bare-metal mode against maas-sim with Ready machines of its own."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.lxdcp.maas.plugins.module_utils.maas.api import MaasClient
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
    assert first.result["provider_id"] == "maas:///az2/%s" % machine["system_id"]
    assert {"lxdcp-managed", "lxdcp-cluster-prod"} <= set(machine["tags"])
    assert [m["system_id"] for m in sim_machines(sim, "cp-4")] == [machine["system_id"]]
    again = playbook.run(task(state="deployed", zone=["az2"], host_tags=["control-plane"]))
    assert again.ok and again.result["changed"] is False and again.writes == [], again.write_summary()


@pytest.mark.parametrize("state", ["present", "deployed"])
def test_check_mode_predicts_the_machine(bare, state):
    _sim, playbook = bare
    checked = playbook.run(task(zone=["az3"], state=state), check=True, diff=True)
    assert checked.ok and checked.writes == []
    assert checked.result["actions"][0].startswith("would allocate node-3")
    real = playbook.run(task(zone=["az3"], state=state), diff=True)
    assert real.ok and real.result["machine"]["hostname"] == "cp-4"
    assert checked.result["actions"] == ["would " + action for action in real.result["actions"]]
    after = dict(real.result["diff"]["after"])
    if state == "deployed":  # the address MAAS gives a bare-metal machine when it deploys it is not known before
        assert after.pop("ip_addresses") and checked.result["diff"]["after"].pop("ip_addresses") == []
    assert checked.result["diff"] == dict(real.result["diff"], after=after)


def test_absent_releases_untags_and_keeps_the_record(bare):
    sim, playbook = bare
    created = playbook.run(task(state="deployed", zone=["az1"]))
    system_id = created.result["machine"]["system_id"]
    removed = playbook.run(task(state="absent"))
    assert removed.ok and removed.result["changed"] is True, removed.result.get("msg")
    record = next(m for m in sim_machines(sim) if m["system_id"] == system_id)
    assert record["status"] == 4 and "lxdcp-managed" not in removed.result["machine"]["tags"]
    again = playbook.run(task(state="absent"))
    assert again.ok, again.result.get("msg")
    assert again.result["changed"] is False and again.writes == [], again.write_summary()
    assert again.result["machine"]["system_id"] == system_id


def test_absent_still_refuses_a_machine_someone_else_allocated(bare):
    sim, playbook = bare
    node = next(m for m in sim_machines(sim) if m["hostname"] == "node-1")
    MaasClient(sim.url, sim.user_api_key).allocate({"system_id": node["system_id"]})
    MaasClient(sim.url, sim.api_key).update_machine(node["system_id"], {"hostname": "cp-4"})  # renaming needs an admin
    run = playbook.run(task(state="absent"))
    assert not run.ok and "Refusing to manage cp-4 (%s)" % node["system_id"] in run.result["msg"]
    assert run.writes == [], run.write_summary()


def test_present_allocates_once_and_reruns_send_no_write(bare):
    sim, playbook = bare
    first = playbook.run(task(zone=["az1"]))
    assert first.ok and first.result["changed"] is True, first.result.get("msg")
    machine = first.result["machine"]
    assert machine["status"] == "Allocated" and machine["hostname"] == "cp-4" and machine["zone"] == "az1"
    assert [w["op"] for w in first.writes if w["op"] == "allocate"] == ["allocate"]
    again = playbook.run(task(zone=["az1"]))
    assert again.ok and again.result["changed"] is False and again.writes == [], again.write_summary()
    checked = playbook.run(task(zone=["az1"]), check=True)
    assert checked.ok and checked.result["changed"] is False and checked.writes == [], checked.write_summary()
    assert [m["system_id"] for m in sim_machines(sim, "cp-4")] == [machine["system_id"]]


def test_released_releases_keeps_the_tags_and_reruns_send_no_write(bare):
    _sim, playbook = bare
    playbook.run(task(state="deployed", zone=["az3"]))
    checked = playbook.run(task(state="released"), check=True)
    assert checked.ok and checked.result["changed"] is True and checked.writes == [], checked.write_summary()
    assert checked.result["actions"] == ["would release cp-4 (Deployed)"]
    released = playbook.run(task(state="released"))
    assert released.ok and released.result["changed"] is True, released.result.get("msg")
    assert released.result["machine"]["status"] == "Ready"
    assert {"lxdcp-managed", "lxdcp-cluster-prod"} <= set(released.result["machine"]["tags"])
    again = playbook.run(task(state="released"))
    assert again.ok and again.result["changed"] is False and again.writes == [], again.write_summary()
    checked = playbook.run(task(state="released"), check=True)
    assert checked.ok and checked.result["changed"] is False and checked.writes == [], checked.write_summary()


def test_failed_tagging_after_allocation_releases_the_machine_again(bare):
    sim, playbook = bare
    sim.faults(fail_next=[{"count": 1, "status": 503, "method": "POST", "path": "/tags/lxdcp-managed/$", "op": "update_nodes"}])
    failed = playbook.run(task(zone=["az2"], retries=0))
    assert not failed.ok
    system_id = next(m["system_id"] for m in sim_machines(sim) if m["hostname"] == "cp-4")
    assert failed.result["msg"].startswith("Allocated cp-4 (%s) but could not tag it: Gave up on POST /tags/lxdcp-managed/"
                                           "?op=update_nodes" % system_id)
    assert failed.result["msg"].endswith("It was released again; run the task again.")
    record = next(m for m in sim_machines(sim) if m["system_id"] == system_id)
    assert record["status"] == 4 and record["owner_id"] is None
    again = playbook.run(task(zone=["az2"]))
    assert again.ok and again.result["machine"]["system_id"] == system_id, again.result.get("msg")
    assert {"lxdcp-managed", "lxdcp-cluster-prod"} <= set(again.result["machine"]["tags"])


def test_machine_left_allocated_and_untagged_is_adopted_by_present(bare):
    sim, playbook = bare
    sim.faults(fail_next=[
        {"count": 1, "status": 503, "method": "POST", "path": "/tags/lxdcp-managed/$", "op": "update_nodes"},
        {"count": 1, "status": 503, "method": "POST", "op": "release"},
    ])
    failed = playbook.run(task(zone=["az2"], retries=0))
    assert not failed.ok and "Rolling back failed too" in failed.result["msg"], failed.result.get("msg")
    system_id = next(m["system_id"] for m in sim_machines(sim) if m["hostname"] == "cp-4")
    assert "machine %s is still in MAAS without ownership tags: release it in MAAS, or run the task again with state: " \
           "present, which adopts it" % system_id in failed.result["msg"]
    refused = playbook.run(task(state="absent"))
    assert not refused.ok and "run the task with state: present first to adopt it" in refused.result["msg"]
    assert refused.writes == [], refused.write_summary()
    adopted = playbook.run(task(zone=["az2"]))
    assert adopted.ok and adopted.result["machine"]["system_id"] == system_id, adopted.result.get("msg")
    assert adopted.result["actions"] == ["tag cp-4 lxdcp-managed"]  # the cluster tag was added before the failure
    assert any("adopting it" in w for w in adopted.result.get("warnings", [])), adopted.result.get("warnings")
    assert [w["op"] for w in adopted.writes if w["op"] == "allocate"] == []
    removed = playbook.run(task(state="absent"))
    assert removed.ok and removed.result["changed"] is True, removed.result.get("msg")


def test_no_matching_machine_reports_maas_answer(bare):
    _sim, playbook = bare
    run = playbook.run(task(cores=64, zone=["az1"]))
    assert not run.ok
    assert "No bare-metal machine can be allocated for cp-4: az1: MAAS refused POST /machines/?op=allocate: 409" in run.result["msg"]


def _ready_vms(sim):
    """Compose the race's two VMs and leave them Ready: ``demo-cp-1`` by the module (tagged, commissioned) and
    ``demo-cp-2`` by MAAS alone, untagged - a VM its task composed and has not tagged yet. Both are cheaper than any
    bare-metal node (MAAS allocates the cheapest match first) and satisfy the bare-metal task's constraints."""
    client = MaasClient(sim.url, sim.api_key)
    az2 = next(h for h in client.list_vm_hosts() if h["zone"]["name"] == "az2")
    untagged = client.compose(az2["id"], {"hostname": "demo-cp-2", "cores": 2, "memory": 4096, "skip_commissioning": "true"})
    return client, untagged["system_id"]


def test_bare_metal_allocation_never_takes_a_ready_control_plane_vm(bare):
    """The mixed-cluster race: control-plane VMs composed and Ready (one tagged, one not yet), then a bare-metal
    allocation whose constraints they satisfy. It takes a bare-metal node; the VMs stay Ready and unowned."""
    sim, playbook = bare
    composed = playbook.run({"name": "vm", MODULE: {"hostname": "demo-cp-1", "cluster": "demo", "cores": 2, "memory": "4G",
                                                    "zone": ["az2"]}})
    assert composed.ok and composed.result["machine"]["status"] == "Ready", composed.result.get("msg")
    client, untagged = _ready_vms(sim)
    vms = [composed.result["machine"]["system_id"], untagged]
    assert [m["status_name"] for m in client.get_machines(vms)] == ["Ready", "Ready"]
    worker = {"hostname": "demo-w-1", "cluster": "demo", "role": "worker", "cores": 2, "memory": "4G", "zone": ["az2"]}
    checked = playbook.run(task(**worker), check=True)
    assert checked.ok and checked.writes == [] and checked.result["actions"][0].startswith("would allocate node-2 "), checked.result
    allocated = playbook.run(task(**worker))
    assert allocated.ok, allocated.result.get("msg")
    machine = allocated.result["machine"]
    assert machine["hostname"] == "demo-w-1" and machine["lxd_vm"] is False and machine["vm_host"] is None
    assert machine["system_id"] not in vms and machine["status"] == "Allocated"
    assert [(m["status_name"], m["owner"], m["hostname"]) for m in client.get_machines(vms)] == [
        ("Ready", None, "demo-cp-1"), ("Ready", None, "demo-cp-2")]


def test_bare_metal_allocation_fails_clearly_when_only_vms_match(bare):
    """With the zone's only bare-metal node taken, the Ready VM there is not allocated, no VM is composed for the
    allocation (MAAS's dynamic composition), and the task fails with MAAS's answer and the exclusions it sent."""
    sim, playbook = bare
    client, untagged = _ready_vms(sim)
    node = next(m for m in client.list_machines(hostname=["node-2"]))
    MaasClient(sim.url, sim.user_api_key).allocate({"system_id": node["system_id"]})
    before = len(client.list_machines())
    failed = playbook.run(task(hostname="demo-w-1", cluster="demo", cores=2, memory="4G", zone=["az2"]))
    assert not failed.ok
    assert failed.result["msg"].startswith("No bare-metal machine can be allocated for demo-w-1: az2: MAAS refused POST "
                                           "/machines/?op=allocate: 409"), failed.result["msg"]
    assert "not_pod_type=lxd,virsh" in failed.result["msg"] and "not_tags=lxdcp-managed" in failed.result["msg"]
    assert len(client.list_machines()) == before
    assert client.get_machine(untagged)["status_name"] == "Ready" and client.get_machine(untagged)["owner"] is None


def test_bare_metal_on_maas_40_sends_no_pod_constraint_and_refuses_an_lxd_vm(sim_factory, sim_playbook):
    """MAAS 4.0 has no ``pod*`` constraints (400 ``No such constraint.``): the allocation leaves them out and takes
    bare metal; an LXD-powered machine it allocates (cheaper, not the collection's) is released again and refused."""
    import os  # pylint: disable=import-outside-toplevel

    with open(os.path.join(os.path.dirname(default_scenario_path()), "maas40.yml"), encoding="utf-8") as handle:
        scenario = yaml.safe_load(handle)
    scenario["machines"].append({"hostname": "someones-vm", "zone": "az1", "cpu_count": 2, "memory": 4096, "status": "ready",
                                 "power_type": "lxd"})
    sim = sim_factory(scenario=scenario, timings=SimServer.FAST_TIMINGS)
    playbook = sim_playbook(sim)
    taken = playbook.run(task(hostname="w-2", cores=2, memory="4G", zone=["az2"]))
    assert taken.ok and taken.result["machine"]["hostname"] == "w-2" and taken.result["machine"]["lxd_vm"] is False, taken.result
    refused = playbook.run(task(hostname="w-1", cores=2, memory="4G", zone=["az1"]))
    assert not refused.ok and refused.result["msg"].startswith("MAAS allocated someones-vm (") and \
        "it is an LXD VM (power type lxd), not bare metal; it was released again." in refused.result["msg"], refused.result
    vm = MaasClient(sim.url, sim.api_key).list_machines(hostname=["someones-vm"])[0]
    assert vm["status_name"] == "Ready" and vm["owner"] is None and not vm["tag_names"]
