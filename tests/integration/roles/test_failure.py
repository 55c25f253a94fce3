"""The main job under failure: failover, all-or-nothing, races for capacity, check mode, bad inventories.

Every test runs the real playbooks (playbooks/control_plane.yml, playbooks/teardown.yml) with ansible-playbook against
maas-sim (fast transition times) and checks the outcome through the MAAS API and the simulator's request log.
"""

from __future__ import annotations

import re

import pytest
import yaml

from simharness import SimServer  # pylint: disable=import-error

from ansible_collections.lxdcp.maas.tests.integration.roles.maas_state import (
    allocated,
    cluster_machines,
    cluster_tags,
    machines_named,
    plus,
    problems_of_cluster,
    problems_of_gone_cluster,
    reservations,
    scenario_room_for_one_cluster,
    used_capacity,
    vm_capacity,
)

DEMO = {"demo-cp-1": "10.10.0.101", "demo-cp-2": "10.10.0.102", "demo-cp-3": "10.10.0.103"}
SUMMARY = "Show the control plane and its API endpoint"


def summary_of(run):
    """The lines of the deploy role's summary."""
    return next(iter(run.by_host(SUMMARY).values()))["msg"]


def vm_host_ids(maas):
    """``{VM host id: name}``."""
    return {host["id"]: host["name"] for host in maas.list_vm_hosts()}


def composes(run, maas):
    """``[(VM host name, status)]`` of the run's compose requests, in order."""
    names = vm_host_ids(maas)
    found = []
    for entry in run.requests:
        match = re.search(r"/(?:vm-hosts|pods)/(\d+)/$", entry["path"])
        if entry["op"] == "compose" and match:
            found.append((names[int(match.group(1))], entry["status"]))
    return found


# -- failover ------------------------------------------------------------------------------------------


def test_zone_lost_the_cluster_completes_on_the_other_zones(cluster, maas, maas_sim):
    """Compose refused on every VM host of az1: the VM planned there fails over, the cluster spreads over az2 and az3."""
    # demo.yml uses pool "default": of az1 only lxd-az1-a is in scope (lxd-az1-b is in pool control-plane).
    maas_sim.faults(compose_fail={"lxd-az1-a": "LXD host lxd-az1-a refused the instance.",
                                  "lxd-az1-b": "LXD host lxd-az1-b refused the instance."})
    run = cluster.up("demo.yml")
    assert run.ok, (run, run.stdout[-3000:])
    assert problems_of_cluster(maas, "demo", DEMO, baseline=reservations(maas)) == []
    machines = {m["hostname"]: m for m in cluster_machines(maas, "demo")}
    zones = [m["zone"]["name"] for m in machines.values()]
    assert "az1" not in zones
    counts = [zones.count("az2"), zones.count("az3")]
    assert sorted(counts) == [1, 2], zones  # within max_skew 1 over the zones that can take VMs
    refused = [host for host, status in composes(run, maas) if status != 200]
    assert refused == ["lxd-az1-a"], composes(run, maas)
    # The VM that failed over, the summary and the module result name it.
    moved = [host for host, result in run.by_host("Compose the LXD VM on its planned host, or allocate the bare-metal "
                                                  "machine, and wait until it is Ready").items() if result.get("failover")]
    assert len(moved) == 1, moved
    name = moved[0]
    new_host = machines[name]["pod"]["name"]
    assert new_host in ("lxd-az2-a", "lxd-az3-a")
    lines = [line for line in summary_of(run) if line.startswith("failover:")]
    assert len(lines) == 1, summary_of(run)
    assert lines[0].startswith("failover: %s from VM host lxd-az1-a (" % name), lines
    assert "LXD host lxd-az1-a refused the instance." in lines[0]
    assert lines[0].endswith(" to %s" % new_host), lines


def test_planned_host_goes_offline_before_composing(cluster, maas, maas_sim):
    """The plan's VM host of az2 goes offline after the lookup read MAAS, before any compose: that VM fails over."""
    job = cluster.start("control_plane.yml", "demo.yml")
    # The lookup's reads: GET /vm-hosts/, then the machines behind them, the cluster's (400: no tag yet) and the
    # plan's hostnames. The modules start seconds later.
    hosts_read = job.until(lambda e: e["method"] == "GET" and e["path"].endswith("/vm-hosts/"))
    reads = []
    job.until(lambda e: e["method"] == "GET" and e["path"].endswith("/machines/") and not reads.append(e) and len(reads) == 3,
              since=hosts_read["seq"])
    before_fault = maas_sim.seq()
    maas_sim.faults(vmhost_offline=["lxd-az2-a"])
    run = job.wait()
    early = [e for e in run.requests if e["seq"] <= before_fault and (e["write"] or e["op"] == "compose")]
    assert early == [], "the fault came too late: %s" % early
    assert run.ok, (run, run.stdout[-3000:])
    assert problems_of_cluster(maas, "demo", DEMO, baseline=reservations(maas)) == []
    machines = cluster_machines(maas, "demo")
    assert "lxd-az2-a" not in [m["pod"]["name"] for m in machines]
    plan = next(iter(run.by_host("Plan the LXD VMs over zones and hosts").values()))["ansible_facts"]["provision_plan"]
    planned = next(p["hostname"] for p in plan["placements"] if p["vm_host"] == "lxd-az2-a")
    lines = [line for line in summary_of(run) if line.startswith("failover:")]
    assert len(lines) == 1 and lines[0].startswith("failover: %s from VM host lxd-az2-a (" % planned), summary_of(run)
    moved = next(m for m in machines if m["hostname"] == planned)
    assert lines[0].endswith(" to %s" % moved["pod"]["name"])
    # The offline host was not even tried: its backing machine showed it before composing.
    assert "lxd-az2-a" not in [host for host, _status in composes(run, maas)]


# -- all-or-nothing -------------------------------------------------------------------------------------


def test_every_host_refusing_fails_naming_each_host_and_leaves_nothing(cluster, maas, maas_sim):
    capacity = used_capacity(maas)
    baseline = reservations(maas)
    hosts = sorted(host["name"] for host in maas.list_vm_hosts())
    maas_sim.faults(compose_fail={host: "%s is out of order." % host for host in hosts})
    run = cluster.up("demo.yml")
    assert not run.ok
    message = " ".join(run.failures().values())
    assert "Cluster demo could not be completed" in message, message
    # Each VM tried max_hosts (3) hosts: the three of pool "default" that demo.yml uses.
    for name in DEMO:
        found = re.search(r"%s: %s could not be composed on 3 VM host\(s\) \(max_hosts\): ([^.]*\.[^;.]*)" % (name, name), message)
        assert found, message
        for host in ("lxd-az1-a", "lxd-az2-a", "lxd-az3-a"):
            assert "%s: compose refused (503): Unable to compose machine because: %s is out of order." % (host, host) in message
    assert problems_of_gone_cluster(maas, "demo", DEMO, baseline=baseline) == []
    assert used_capacity(maas) == capacity


def test_one_machine_failing_everywhere_rolls_the_others_back(cluster, maas, maas_sim):
    """demo-cp-3's commissioning fails on every host: the two VMs the run made for demo-cp-1 and -2 are removed again."""
    capacity = used_capacity(maas)
    baseline = reservations(maas)
    maas_sim.faults(commission_fail=["demo-cp-3"])
    run = cluster.up("demo.yml")
    assert not run.ok
    assert problems_of_gone_cluster(maas, "demo", DEMO, baseline=baseline) == []
    assert used_capacity(maas) == capacity
    assert not [w for w in run.writes if w["path"].endswith("/dnsresources/")]
    removed = run.by_host("Remove what this run created on this machine (its VM, or the bare-metal machine it allocated)")
    assert sorted(host for host, result in removed.items() if result.get("changed")) == ["demo-cp-1", "demo-cp-2"]
    for host in DEMO:
        message = run.failures()[host]
        assert message.startswith("Cluster demo could not be completed: demo-cp-3: demo-cp-3 could not be composed on 3 VM "
                                  "host(s) (max_hosts): "), message
        assert message.count("commissioning failed") == 3, message
        # The message names what the rollback removed (it did: above).
        assert "Removed what this run created (demo-cp-1, demo-cp-2), and the VM hosts got their capacity back." in message, message


def test_the_roles_roll_back_in_a_play_without_any_errors_fatal(cluster, maas, maas_sim, tmp_path):
    """The provision and deploy roles in a play that does not set any_errors_fatal: all-or-nothing still holds (the
    roles' blocks set it), the machines made for demo-cp-1 and -2 are removed again when demo-cp-3 cannot be made."""
    capacity = used_capacity(maas)
    baseline = reservations(maas)
    maas_sim.faults(commission_fail=["demo-cp-3"])
    playbook = tmp_path / "roles.yml"
    playbook.write_text(yaml.safe_dump([{"name": "roles", "hosts": "control_plane", "gather_facts": False,
                                         "roles": [{"role": "lxdcp.maas.provision"}, {"role": "lxdcp.maas.deploy"}]}],
                                       sort_keys=False), encoding="utf-8")
    run = cluster.run(str(playbook), "demo.yml")
    assert not run.ok
    assert problems_of_gone_cluster(maas, "demo", DEMO, baseline=baseline) == []
    assert used_capacity(maas) == capacity
    assert not [w for w in run.writes if "/machines/" in w["path"] and w["op"] == "deploy"]
    for host in DEMO:
        assert run.failures()[host].startswith("Cluster demo could not be completed: demo-cp-3: "), run.failures()


def test_a_wait_for_the_deployments_that_fails_takes_back_every_machine(cluster, maas, maas_sim):
    """MAAS stops answering the reads of the deployments' wait (503 past the client's retries) after the three
    deployments started: every host fails naming the wait, and the run takes back all three VMs it made (the wait is
    one task for the play; no host leaves the play without the rollback)."""
    capacity = used_capacity(maas)
    baseline = reservations(maas)
    job = cluster.start("control_plane.yml", "demo.yml")
    deploys = []
    job.until(lambda e: e["op"] == "deploy" and e["status"] == 200 and not deploys.append(e) and len(deploys) == 3)
    # The wait's first read and its 5 retries (the client's default) fail; the rollback's reads are answered.
    maas_sim.faults(fail_next=[{"count": 6, "status": 503, "method": "GET", "path": "/machines/$", "retry_after": 0}])
    run = job.wait()
    assert not run.ok
    assert sorted(run.failures()) == sorted(DEMO), run.failures()
    for host, message in run.failures().items():
        assert message.startswith("Cluster demo could not be completed: "), (host, message)
        assert message.count("waiting for the deployments failed: ") == 3, message
        assert "Removed what this run created (demo-cp-1, demo-cp-2, demo-cp-3)" in message, message
    assert problems_of_gone_cluster(maas, "demo", DEMO, baseline=baseline) == []
    assert used_capacity(maas) == capacity

# -- races for capacity ------------------------------------------------------------------------------------


@pytest.mark.parametrize("clusters", [2, 3])
def test_clusters_racing_for_room_for_one_are_each_complete_or_gone(clusters, sim_factory, bind, inventory):
    """Room for one 3-node cluster, N clusters started at once: each ends complete or without a trace, nothing leaks."""
    sim = sim_factory(scenario=scenario_room_for_one_cluster(), timings=SimServer.FAST_TIMINGS)
    runner, maas = bind(sim)
    capacity = used_capacity(maas)
    baseline = reservations(maas)
    nodes = {}
    jobs = {}
    for index in range(clusters):
        name = "race%d" % index
        nodes[name] = {"%s-cp-%d" % (name, i): "10.10.0.%d" % (100 + 10 * index + i) for i in (1, 2, 3)}
        inv = inventory(name, nodes[name], provision_cores=4, provision_memory="16G", provision_disk_size="20G",
                        provision_zones=["az1", "az2", "az3"])
        jobs[name] = runner.start("control_plane.yml", inv)
    runs = {name: job.wait(timeout=300) for name, job in jobs.items()}
    complete = []
    for name, run in sorted(runs.items()):
        machines = cluster_machines(maas, name)
        if run.ok:
            complete.append(name)
            assert problems_of_cluster(maas, name, nodes[name], baseline=baseline) == [], name
        else:
            assert machines == [] and problems_of_gone_cluster(maas, name, nodes[name], baseline=baseline) == [], (name, run.failures())
            message = " ".join(run.failures().values())
            assert "Cluster %s could not be completed" % name in message or "cannot place" in message, (name, message)
    assert len(complete) <= 1, complete
    assert reservations(maas) == baseline
    assert used_capacity(maas) == plus(capacity, *[vm_capacity(cluster_machines(maas, name)) for name in complete])


# -- check mode tells the truth ----------------------------------------------------------------------------


def test_check_mode_predicts_each_step_of_a_cluster_life(cluster, maas, inventory):
    """New 3-node cluster, scale-up 3 -> 5, scale-down 5 -> 3 (lxdcp_state: absent), teardown: each step first with --check
    (no write; the --diff variant too), then for real: the check run's recap counts as many changes as the real run's.

    The real runs are also the scale test: the machines that stay are untouched, the DNS record follows the nodes.
    """
    nodes = {"life-cp-%d" % i: "10.10.0.%d" % (160 + i) for i in range(1, 6)}
    first = dict(list(nodes.items())[:3])
    baseline = reservations(maas)

    def step(playbook, inv, diff=False):
        check = cluster.run(playbook, inv, check=True, diff=diff)
        assert check.ok, (check, check.stdout[-3000:])
        assert check.requests and check.writes == [], check.write_summary()
        real = cluster.run(playbook, inv)
        assert real.ok, (real, real.stdout[-3000:])
        assert sum(real.changed.values()) > 0, real
        assert sum(check.changed.values()) == sum(real.changed.values()), (check.changed, real.changed)
        return real

    # New cluster.
    step("control_plane.yml", inventory("life", first))
    assert problems_of_cluster(maas, "life", first, baseline=baseline) == []
    ids = {m["hostname"]: m["system_id"] for m in cluster_machines(maas, "life")}

    # Scale up: two more nodes, the first three untouched.
    run = step("control_plane.yml", inventory("life", nodes), diff=True)
    assert problems_of_cluster(maas, "life", nodes, baseline=baseline, kept=ids) == []
    assert not [w for w in run.writes if any(sid in w["path"] for sid in ids.values())], run.write_summary()
    ids = {m["hostname"]: m["system_id"] for m in cluster_machines(maas, "life")}

    # Scale down: life-cp-4 and -5 marked absent.
    down = inventory("life", nodes)
    for name in ("life-cp-4", "life-cp-5"):
        down["all"]["children"]["control_plane"]["hosts"][name]["lxdcp_state"] = "absent"
    run = step("control_plane.yml", down, diff=True)
    assert problems_of_cluster(maas, "life", first, baseline=baseline, kept=ids) == []
    assert machines_named(maas, ["life-cp-4", "life-cp-5"]) == []
    assert allocated(maas, [nodes["life-cp-4"], nodes["life-cp-5"]]) == []
    assert not [w for w in run.writes if any(ids[name] in w["path"] for name in first)], run.write_summary()

    # Teardown.
    step("teardown.yml", inventory("life", first))
    assert problems_of_gone_cluster(maas, "life", nodes, baseline=baseline) == []
    assert cluster_tags(maas) == []


# -- a bad inventory fails before MAAS hears of it -----------------------------------------------------------


@pytest.mark.parametrize("playbook", ["control_plane.yml", "teardown.yml"])
@pytest.mark.parametrize("mistake", ["empty", "misspelled"])
def test_inventory_without_control_plane_fails_before_any_request(mistake, playbook, cluster, inventory):
    inv = inventory("nogroup", {} if mistake == "empty" else {"nogroup-cp-1": "10.10.0.191"},
                    workers={"nogroup-w-1": {"provision_cores": 8}})
    groups = "control_plane, workers"
    if mistake == "misspelled":
        children = inv["all"]["children"]
        children["control-plane"] = children.pop("control_plane")
        groups = "control-plane, workers"
    run = cluster.run(playbook, inv)
    assert run.rc != 0 and not run.ok
    message = run.failures()["localhost"]
    assert "The inventory has no host in group control_plane" in message, message
    assert "its groups are %s." % groups in message, message
    assert run.requests == [], run.requests


def test_unknown_zone_fails_naming_it_and_maas_zones_before_any_write(cluster, maas, inventory):
    run = cluster.up(inventory("zoneless", {"zoneless-cp-1": "10.10.0.192", "zoneless-cp-2": "10.10.0.193"},
                               provision_zones=["az1", "az9"]))
    assert run.rc != 0 and not run.ok
    message = " ".join(set(run.failures().values()))
    assert "unknown zone(s): az9 (MAAS has: az1, az2, az3, default)" in message, message
    assert run.writes == [], run.write_summary()
    assert machines_named(maas, ["zoneless-cp-1", "zoneless-cp-2"]) == []
