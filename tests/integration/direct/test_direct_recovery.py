"""maas_lxd_vm in direct mode after an interruption: one re-run finishes the VM, with no duplicate in MAAS or on LXD.

The VM is made in two halves (the LXD instance, then the MAAS machine), so a run can die in between. The controller
(ansible-playbook and every process it started) is killed with SIGKILL at a point held by a ``fail_next`` 503 with
Retry-After 20 (the client waits there): after the instance was created but before MAAS registered it, and after the
registration but before commissioning. Half states are also made by hand, behind the collection's back: the MAAS
machine deleted (the instance left), and the instance deleted (the machine left).

After the re-run there is exactly one MAAS machine cp-1, Deployed, tagged, holding its static IP, exactly one LXD
instance cp-1 over all daemons, MAAS's certificate of that machine trusted on its host only; one more run changes
nothing and writes nothing to MAAS or LXD.
"""

from __future__ import annotations

import time

import pytest

from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import sim_ips, sim_machines

IP = "10.10.0.101"
TAGS = {"lxdcp-managed", "lxdcp-cluster-prod"}


def hold(path, op=None):
    """A ``fail_next`` rule: the first matching POST answers 503 with Retry-After 20, so the client waits there."""
    return {"count": 1, "status": 503, "retry_after": 20, "method": "POST", "path": path, "op": op}


def held(op=None, path="/machines/"):
    """Whether a request-log entry is the held POST (answered 503)."""
    return lambda e: e["method"] == "POST" and e["status"] == 503 and e["op"] == op and (op or e["path"].endswith(path))


def our_instances(direct):
    """``{host: [(project, name)]}`` of the daemons that hold an instance."""
    return {host: names for host, names in direct.instances().items() if names}


def assert_one_deployed_vm(direct, maas, result, stale=()):
    """One machine cp-1 (the result's), Deployed, tagged, with IP as a static link; one instance, on the result's host;
    MAAS's certificate of the machine trusted there, nothing else trusted anywhere (but the certificates of the
    machines with ``stale`` system ids). Returns ``(system id, host)``."""
    system_id, host = result["machine"]["system_id"], result["machine"]["vm_host"]["name"]
    assert [m["system_id"] for m in sim_machines(direct.sim, "cp-1")] == [system_id]
    machine = maas.get_machine(system_id)
    assert machine["status_name"] == "Deployed" and TAGS <= set(machine["tag_names"]), machine["status_name"]
    assert machine["power_type"] == "lxd"
    links = [(link["mode"], link.get("ip_address")) for nic in machine["interface_set"] for link in nic["links"]]
    assert links == [("static", IP)]
    assert len(sim_ips(direct.sim, IP)) == 1
    assert our_instances(direct) == {host: [("default", "cp-1")]}
    trusted = sorted("maas-%s" % machine for machine in (system_id,) + tuple(stale))
    assert {name: names for name, names in direct.trusted().items() if names} == {host: trusted}
    return system_id, host


def assert_settled(direct, playbook, task):
    """One more run: nothing to do, nothing written to MAAS or LXD."""
    mark = direct.mark()
    again = playbook.run(task)
    assert again.ok and again.result["changed"] is False, again.result.get("msg")
    assert again.writes == [], again.write_summary()
    assert direct.lxd_writes(mark) == []


def wait_until(predicate, what, timeout=10):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


# -- the controller killed ----------------------------------------------------------------------------------------


def created_not_registered(direct, maas):
    """The instance exists (ours), MAAS has no machine cp-1."""
    ((host, names),) = our_instances(direct).items()
    assert names == [("default", "cp-1")]
    assert direct.instance(host, "cp-1")["config"]["user.lxdcp.cluster"] == "prod"
    assert sim_machines(direct.sim, "cp-1") == [] and not any(direct.trusted().values())
    return host


def registered_not_commissioned(direct, maas):
    """The machine is registered (New), tagged, its certificate trusted on the instance's host; not commissioning."""
    ((host, _names),) = our_instances(direct).items()
    (record,) = sim_machines(direct.sim, "cp-1")
    machine = maas.get_machine(record["system_id"])
    assert machine["status_name"] == "New" and TAGS <= set(machine["tag_names"])
    assert direct.trusted()[host] == ["maas-%s" % machine["system_id"]]
    return machine["system_id"]


KILL_POINTS = {
    "created-not-registered": (hold(r"/machines/$"), held(), created_not_registered),
    "registered-not-commissioned": (hold(r"/machines/[^/]+/$", op="commission"), held(op="commission"), registered_not_commissioned),
}


@pytest.mark.parametrize("point", sorted(KILL_POINTS))
def test_controller_killed_then_one_rerun_completes_without_duplicates(direct, playbook, vm_task, maas, point):
    rule, at, left = KILL_POINTS[point]
    task = vm_task(state="deployed", interfaces=[{"ip": IP}])
    direct.sim.faults(fail_next=[rule])
    job = playbook.start(task)
    job.until(at)
    job.kill()
    assert job.wait().rc != 0
    found = left(direct, maas)
    direct.sim.clear_faults()

    mark = direct.mark()
    checked = playbook.run(task, check=True, diff=True)
    assert checked.ok and checked.result["changed"] is True, checked.result.get("msg")
    assert checked.writes == [] and direct.lxd_writes(mark) == []
    rerun = playbook.run(task, diff=True)
    assert rerun.ok, rerun.result.get("msg")
    system_id, host = assert_one_deployed_vm(direct, maas, rerun.result)
    # No second instance; MAAS's certificate of the machine registered by the re-run is trusted by the re-run.
    posted = [w for w in direct.lxd_writes(mark) if w.startswith("POST")]
    assert posted == (["POST %s /1.0/certificates" % host] if point == "created-not-registered" else []), posted
    creates = [w for w in rerun.writes if w["path"].endswith("/machines/") and not w["op"]]
    if point == "created-not-registered":
        assert found == host and rerun.result["created"] is True and len(creates) == 1
        assert rerun.result["actions"][0] == "register cp-1 (LXD instance on %s) in MAAS" % host
        assert checked.result["diff"] == rerun.result["diff"]  # the instance's host, zone and pool, before it is registered
        assert ("cp-1: LXD instance cp-1 on %s is what an interrupted run left before registering it in MAAS; registering it"
                % host) in rerun.result["warnings"]
    else:
        assert found == system_id and creates == []
        assert rerun.result["actions"][0] == "commission cp-1 (%s): its commissioning never started" % system_id
    assert rerun.result["actions"] == [a[len("would "):] if a.startswith("would ") else a for a in checked.result["actions"]]
    assert_settled(direct, playbook, task)


# -- half states made by hand -------------------------------------------------------------------------------------


def test_an_instance_whose_machine_was_deleted_is_registered_again(direct, playbook, vm_task, maas):
    task = vm_task(state="deployed", interfaces=[{"ip": IP}])
    made = playbook.run(task)
    assert made.ok, made.result.get("msg")
    old, host = made.result["machine"]["system_id"], made.result["machine"]["vm_host"]["name"]
    instance = direct.instance(host, "cp-1")
    maas.delete_machine(old)
    wait_until(lambda: sim_machines(direct.sim, "cp-1") == [], "MAAS did not delete cp-1")
    assert our_instances(direct) == {host: [("default", "cp-1")]}  # MAAS leaves an lxd-powered machine's instance

    mark = direct.mark()
    rerun = playbook.run(task)
    assert rerun.ok, rerun.result.get("msg")
    assert rerun.result["created"] is True and rerun.result["machine"]["system_id"] != old
    assert rerun.result["actions"][0] == "register cp-1 (LXD instance on %s) in MAAS" % host
    assert ("cp-1: LXD instance cp-1 on %s is what an interrupted run left before registering it in MAAS; registering it"
            % host) in rerun.result["warnings"]
    assert not [w for w in direct.lxd_writes(mark) if "/1.0/instances" in w]  # the same instance, not touched
    after = direct.instance(host, "cp-1")
    assert (after["created_at"], after["config"]["volatile.uuid"]) == (instance["created_at"], instance["config"]["volatile.uuid"])
    # The deleted machine's certificate stays trusted: MAAS deleted the machine behind the collection's back.
    assert_one_deployed_vm(direct, maas, rerun.result, stale=[old])
    assert_settled(direct, playbook, task)


def test_a_machine_whose_instance_was_deleted_is_deleted_and_made_again(direct, playbook, vm_task, maas):
    task = vm_task(state="deployed", interfaces=[{"ip": IP}])
    made = playbook.run(task)
    assert made.ok, made.result.get("msg")
    old, host = made.result["machine"]["system_id"], made.result["machine"]["vm_host"]["name"]
    direct.hosts[host].delete("cp-1")
    assert not our_instances(direct)

    rerun = playbook.run(task)
    assert rerun.ok, rerun.result.get("msg")
    new = rerun.result["machine"]["system_id"]
    assert new != old and rerun.result["created"] is True
    assert ("cp-1 (%s) is powered by LXD instance cp-1 on %s, which is gone: deleting the machine to create the VM again"
            % (old, host)) in rerun.result["warnings"]
    assert rerun.result["actions"][:2] == [
        "delete cp-1 (%s): its LXD instance cp-1 on %s is gone" % (old, host),
        "create cp-1 on LXD host %s (2 cores, 4096 MiB, 20 GiB) and register it in MAAS" % rerun.result["machine"]["vm_host"]["name"]]
    assert [w["path"] for w in rerun.writes if w["method"] == "DELETE"] == ["/MAAS/api/2.0/machines/%s/" % old]
    assert_one_deployed_vm(direct, maas, rerun.result)  # the old machine's certificate is no longer trusted
    assert_settled(direct, playbook, task)
