"""Recovery: the main job killed half-way (the controller, or MAAS itself), scaling, partial teardown, failed machines.

Every test runs the real playbooks (playbooks/control_plane.yml, playbooks/teardown.yml) with ansible-playbook against
maas-sim and checks the outcome through the MAAS API and the simulator's request log. A run is killed at a point
found by polling the simulator's request log (``Background.until``); where a point is too short to hit by polling,
a ``fail_next`` fault with a Retry-After holds the run there (the client waits before retrying).
"""

from __future__ import annotations

import time

import pytest

from simharness import SimServer  # pylint: disable=import-error

from ansible_collections.lxdcp.maas.tests.integration.roles.maas_state import (
    allocated,
    cluster_machines,
    cluster_tags,
    machines_named,
    plus,
    problems_of_cluster,
    problems_of_gone_cluster,
    record_ips,
    reservations,
    static_ips,
    used_capacity,
    vm_capacity,
)

DEMO = {"demo-cp-1": "10.10.0.101", "demo-cp-2": "10.10.0.102", "demo-cp-3": "10.10.0.103"}  # playbooks/inventory/demo.yml
FIVE = {"big-cp-%d" % i: "10.10.0.11%d" % i for i in range(1, 6)}  # playbooks/inventory/five-nodes.yml


def write(entry, path=None, op=None, status=None):
    """Whether a request-log entry is a write to a path ending with ``path`` (and ``op``, ``status``)."""
    return (entry["write"] and (path is None or entry["path"].endswith(path)) and (op is None or entry["op"] == op)
            and (status is None or entry["status"] == status))


def hold(path, op=None, method="POST"):
    """A ``fail_next`` rule: the first matching request answers 503 with Retry-After 20, so the client waits there."""
    return {"count": 1, "status": 503, "retry_after": 20, "method": method, "path": path, "op": op}


# Where the controller (ansible-playbook and everything it started) dies: faults that hold the run at that point,
# and the request the test waits for before killing.
KILL_POINTS = {
    # Composed, not tagged yet: the re-run adopts the untagged VM. The first tagging of a machine is held (a tag's
    # creation, POST /tags/, may come before any VM exists: it is no sign of a composed VM).
    "composed-untagged": (dict(fail_next=[hold(r"/tags/", op="update_nodes")]),
                          lambda e: e["op"] == "update_nodes" and e["status"] == 503),
    # Tagged, MAAS still commissioning it (commissioning takes 2 s in this test).
    "commissioning": ({}, lambda e: write(e, "/tags/lxdcp-managed/", "update_nodes", 200)),
    # The AUTO address unlinked, the static link not made yet: the address is free in between.
    "static-ip-half-done": (dict(fail_next=[hold(r"/interfaces/", op="link_subnet")]),
                            lambda e: e["op"] == "link_subnet" and e["status"] == 503),
    "deploying": ({}, lambda e: write(e, op="deploy", status=200)),
    "dns-record-created": ({}, lambda e: write(e, "/dnsresources/", status=200)),
}


@pytest.mark.parametrize("point", sorted(KILL_POINTS))
def test_controller_killed_then_one_run_completes(point, sim_factory, bind):
    timings = dict(SimServer.FAST_TIMINGS, commissioning=2.0) if point == "commissioning" else SimServer.FAST_TIMINGS
    sim = sim_factory(timings=timings)
    runner, maas = bind(sim)
    capacity = used_capacity(maas)
    baseline = reservations(maas)
    faults, at = KILL_POINTS[point]
    if faults:
        sim.faults(**faults)
    job = runner.start("control_plane.yml", "five-nodes.yml")
    job.until(lambda e: at(e) and (e["write"] or e["status"] == 503))
    job.kill()
    sim.clear_faults()
    survivors = {m["hostname"]: m for m in machines_named(maas, FIVE)}
    assert survivors, "the kill came before any VM was composed"
    if point == "composed-untagged":
        assert any("lxdcp-managed" not in m["tag_names"] for m in survivors.values()), survivors
    if point == "commissioning":
        assert "Commissioning" in [m["status_name"] for m in survivors.values()], survivors
    if point == "static-ip-half-done":
        unlinked = [name for name, m in survivors.items() if not static_ips(m) and not allocated(maas, [FIVE[name]])]
        assert unlinked, "no VM between unlink and link"
    if point == "deploying":
        assert "Deploying" in [m["status_name"] for m in survivors.values()], survivors
    if point == "dns-record-created":
        assert record_ips(maas, "big-api.maas") == sorted(FIVE.values())

    run = runner.up("five-nodes.yml")
    assert run.ok, (run, run.stdout[-3000:])
    kept = {name: m["system_id"] for name, m in survivors.items()}
    assert problems_of_cluster(maas, "big", FIVE, baseline=baseline, kept=kept) == []
    machines = cluster_machines(maas, "big")
    assert used_capacity(maas) == plus(capacity, vm_capacity(machines))
    zones = [m["zone"]["name"] for m in machines]
    assert sorted(zones.count(zone) for zone in ("az1", "az2", "az3")) == [1, 2, 2]


# Where MAAS (maas-sim on a --state file) dies with SIGKILL. "restart": it is started again at once on its state, the
# run in flight goes on (its requests retry) or fails; "down": it stays down until the run has given up (the run's
# rollback cannot reach it either), then starts on its state.
SIM_KILL_POINTS = {
    "composed-restart": (lambda e: write(e, op="compose", status=200), "restart"),
    "composed-down": (lambda e: write(e, op="compose", status=200), "down"),
    "deploying-restart": (lambda e: write(e, op="deploy", status=200), "restart"),
}


@pytest.mark.parametrize("point", sorted(SIM_KILL_POINTS))
def test_maas_killed_and_restarted_then_one_run_completes(point, sim_factory, bind, tmp_path):
    sim = sim_factory(timings=SimServer.FAST_TIMINGS, state=str(tmp_path / "maas-sim.db"))
    runner, maas = bind(sim)
    capacity = used_capacity(maas)
    baseline = reservations(maas)
    at, mode = SIM_KILL_POINTS[point]
    job = runner.start("control_plane.yml", "five-nodes.yml")
    job.until(at)
    sim.kill()
    if mode == "restart":
        sim.start()
    interrupted = job.wait(timeout=240)
    if mode == "down":
        assert not interrupted.ok and "Cannot reach MAAS" in interrupted.stdout, interrupted
        sim.start()
    survivors = {m["hostname"]: m["system_id"] for m in machines_named(maas, FIVE)}
    assert survivors, "MAAS lost the VMs composed before it was killed"

    run = runner.up("five-nodes.yml")
    assert run.ok, (run, run.stdout[-3000:])
    assert problems_of_cluster(maas, "big", FIVE, baseline=baseline, kept=survivors) == []
    assert used_capacity(maas) == plus(capacity, vm_capacity(cluster_machines(maas, "big")))


# -- removing some nodes -----------------------------------------------------------------------------------


def test_teardown_limited_to_two_nodes_then_the_rest(cluster, maas):
    baseline = reservations(maas)
    assert cluster.up("five-nodes.yml").ok
    stay = {name: ip for name, ip in FIVE.items() if name not in ("big-cp-4", "big-cp-5")}
    ids = {m["hostname"]: m["system_id"] for m in cluster_machines(maas, "big")}

    run = cluster.down("five-nodes.yml", limit=["big-cp-4", "big-cp-5"])
    assert run.ok, (run, run.stdout[-3000:])
    assert problems_of_cluster(maas, "big", stay, baseline=baseline, kept=ids) == []
    assert machines_named(maas, ["big-cp-4", "big-cp-5"]) == []
    assert allocated(maas, [FIVE["big-cp-4"], FIVE["big-cp-5"]]) == []
    assert not [w for w in run.writes if any(ids[name] in w["path"] for name in stay)], run.write_summary()
    assert cluster_tags(maas) == ["lxdcp-cluster-big"]

    run = cluster.down("five-nodes.yml")
    assert run.ok, (run, run.stdout[-3000:])
    assert problems_of_gone_cluster(maas, "big", FIVE, baseline=baseline) == []
    assert cluster_tags(maas) == []


# -- machines MAAS reports as failed -------------------------------------------------------------------------


def test_failed_deployment_needs_recover_redeploy(cluster, maas, maas_sim):
    baseline = reservations(maas)
    maas_sim.faults(deploy_fail=["demo-cp-2"])
    kept_run = cluster.up("demo.yml", extra_vars={"provision_keep_partial": True})
    assert not kept_run.ok
    ids = {m["hostname"]: m["system_id"] for m in cluster_machines(maas, "demo")}
    assert sorted(ids) == sorted(DEMO)  # provision_keep_partial: the run's VMs stay
    assert machines_named(maas, ["demo-cp-2"])[0]["status_name"] == "Failed deployment"
    maas_sim.clear_faults()

    run = cluster.up("demo.yml")
    assert not run.ok
    message = run.failures()["demo-cp-2"]
    assert "demo-cp-2 is in state 'Failed deployment'" in message and "recover: redeploy" in message, message
    assert {m["hostname"]: m["system_id"] for m in cluster_machines(maas, "demo")} == ids  # nothing was removed
    assert run.writes == [], run.write_summary()

    run = cluster.up("demo.yml", extra_vars={"provision_recover": "redeploy"})
    assert run.ok, (run, run.stdout[-3000:])
    assert problems_of_cluster(maas, "demo", DEMO, baseline=baseline, kept=ids) == []

    # The first run's message names every machine it kept.
    message = kept_run.failures()["demo-cp-1"]
    assert message.startswith("Cluster demo could not be completed: demo-cp-2: Machine demo-cp-2 ("), message
    assert "Kept what this run created (demo-cp-1, demo-cp-2, demo-cp-3): provision_keep_partial is true." in message, message


def commissioning_failed_after_the_run_died(runner, maas, sim):
    """The run dies while MAAS commissions the VMs (2 s here); demo-cp-3's commissioning then fails."""
    sim.faults(commission_fail=["demo-cp-3"])
    job = runner.start("control_plane.yml", "demo.yml")
    tagged = []
    job.until(lambda e: write(e, "/tags/lxdcp-managed/", "update_nodes", 200) and not tagged.append(e) and len(tagged) == 3)
    job.kill()


def commissioning_failed_again(runner, maas, sim):
    """The cluster's VMs are Ready (only the provision role's parts ran); MAAS commissions demo-cp-3 again, which fails
    (MAAS resets the interfaces' links when it commissions)."""
    run = runner.up("demo.yml", tags=["lxdcp_compose"])
    assert run.ok, (run, run.stdout[-3000:])
    sim.faults(commission_fail=["demo-cp-3"])
    maas.post("machines/%s/" % machines_named(maas, ["demo-cp-3"])[0]["system_id"], {}, op="commission")


@pytest.mark.parametrize("how", [commissioning_failed_after_the_run_died, commissioning_failed_again], ids=lambda f: f.__name__)
def test_failed_commissioning_is_composed_again_with_recover_recreate(how, sim_factory, bind):
    sim = sim_factory(timings=dict(SimServer.FAST_TIMINGS, commissioning=2.0))
    runner, maas = bind(sim)
    baseline = reservations(maas)
    how(runner, maas, sim)
    deadline = time.monotonic() + 10
    while machines_named(maas, ["demo-cp-3"])[0]["status_name"] == "Commissioning" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert machines_named(maas, ["demo-cp-3"])[0]["status_name"] == "Failed commissioning"
    sim.clear_faults()
    ids = {m["hostname"]: m["system_id"] for m in machines_named(maas, DEMO)}
    assert sorted(ids) == sorted(DEMO)

    run = runner.up("demo.yml")
    assert not run.ok
    message = run.failures()["demo-cp-3"]
    assert {m["hostname"]: m["system_id"] for m in machines_named(maas, DEMO)} == ids  # nothing was removed
    assert "demo-cp-3 is in state 'Failed commissioning'" in message and "recover: recreate" in message, message

    run = runner.up("demo.yml", extra_vars={"provision_recover": "recreate"})
    assert run.ok, (run, run.stdout[-3000:])
    kept = {name: ids[name] for name in ("demo-cp-1", "demo-cp-2")}
    assert problems_of_cluster(maas, "demo", DEMO, baseline=baseline, kept=kept) == []
    assert machines_named(maas, ["demo-cp-3"])[0]["system_id"] != ids["demo-cp-3"]
