"""The provision, deploy and release roles through playbooks/control_plane.yml and playbooks/teardown.yml.

Every test runs the real playbooks with ansible-playbook against maas-sim (fast transition times)
and checks the outcome through the MAAS API and the simulator's request log.
"""

from __future__ import annotations

from simharness import SimServer  # pylint: disable=import-error

from ansible_collections.lxdcp.maas.tests.integration.roles.maas_state import (
    allocated,
    cluster_machines,
    dns_record,
    machines_named,
    scenario_with_metal,
    static_ips,
    used_capacity,
)


def provider_ids(summary):
    """``{name: provider ID}`` of the deploy role's summary table (the last column of each machine's row)."""
    return {line.split()[0]: line.split()[-1] for line in summary[1:] if ":///" in line.split()[-1]}


def provider_ids_of(machines, vms):
    """What the summary must show for ``machines`` (MAAS's), VMs under scheme ``vms``: CAPMAAS's maas:///<zone>/<id>."""
    return {name: "%s:///%s/%s" % (vms if m["pod"] or m.get("power_type") == "lxd" else "maas", m["zone"]["name"],
                                   m["system_id"])
            for name, m in machines.items()}


DEMO_IPS = {"demo-cp-1": "10.10.0.101", "demo-cp-2": "10.10.0.102", "demo-cp-3": "10.10.0.103"}


# -- the whole cycle -----------------------------------------------------------------------------


def test_full_cycle_is_idempotent_and_leaves_other_clusters_alone(cluster, maas, inventory):
    capacity_before = used_capacity(maas)
    other = inventory("other", {"other-cp-1": "10.10.0.121", "other-cp-2": "10.10.0.122"}, provision_zones=["az1", "az2"])
    run = cluster.up(other)
    assert run.ok, run
    others = {m["system_id"]: m for m in cluster_machines(maas, "other")}
    assert len(others) == 2

    # Provision and deploy: one VM per zone, each on its own host, static IPs, Deployed, DNS record.
    run = cluster.up("demo.yml")
    assert run.ok, run
    machines = {m["hostname"]: m for m in cluster_machines(maas, "demo")}
    assert sorted(machines) == sorted(DEMO_IPS)
    assert sorted(m["zone"]["name"] for m in machines.values()) == ["az1", "az2", "az3"]
    assert len({m["pod"]["name"] for m in machines.values()}) == 3
    for name, machine in machines.items():
        assert machine["status_name"] == "Deployed"
        assert static_ips(machine) == [DEMO_IPS[name]]
        assert "lxdcp-managed" in machine["tag_names"]
    record = dns_record(maas, "demo-api.maas")
    assert sorted(ip["ip"] for ip in record["ip_addresses"]) == sorted(DEMO_IPS.values())
    summary = run.by_host("Show the control plane and its API endpoint")["demo-cp-1"]["msg"]
    assert summary[0].split() == ["NAME", "ZONE", "HOST", "IP", "STATUS", "PROVIDER", "ID"]
    assert summary[-1] == "API endpoint: https://demo-api.maas:6443 (MAAS DNS record demo-api.maas)"
    for name, machine in machines.items():
        row = next(line for line in summary if line.startswith(name + " "))
        assert row.split() == [name, machine["zone"]["name"], machine["pod"]["name"], DEMO_IPS[name], "Deployed",
                               "maas-lxd:///%s/%s" % (machine["zone"]["name"], machine["system_id"])]

    # The same run again: nothing changes, MAAS gets no write.
    run = cluster.up("demo.yml")
    assert run.ok, run
    assert set(run.changed.values()) == {0}, run
    assert run.writes == [], run.write_summary()
    assert {m["system_id"] for m in cluster_machines(maas, "demo")} == {m["system_id"] for m in machines.values()}

    # Teardown: no VM, reservation or DNS record of the cluster is left; the VM hosts got their capacity back.
    run = cluster.down("demo.yml")
    assert run.ok, run
    assert machines_named(maas, DEMO_IPS) == []
    assert allocated(maas, DEMO_IPS.values()) == []
    assert maas.ip_addresses(all_users=True) and not [a for a in maas.ip_addresses(all_users=True) if a["ip"] in DEMO_IPS.values()]
    assert dns_record(maas, "demo-api.maas") is None

    # The other cluster is untouched.
    after = {m["system_id"]: m for m in cluster_machines(maas, "other")}
    assert sorted(after) == sorted(others)
    assert all(m["status_name"] == "Deployed" for m in after.values())
    assert dns_record(maas, "other-api.maas") is not None

    # Teardown again: nothing to do, no write.
    run = cluster.down("demo.yml")
    assert run.ok, run
    assert set(run.changed.values()) == {0}, run
    assert run.writes == [], run.write_summary()

    cluster.down(other)
    assert used_capacity(maas) == capacity_before


def test_five_nodes_spread_two_two_one_on_distinct_hosts(cluster, maas):
    run = cluster.up("five-nodes.yml")
    assert run.ok, run
    machines = cluster_machines(maas, "big")
    zones = sorted(m["zone"]["name"] for m in machines)
    assert sorted(zones.count(zone) for zone in ("az1", "az2", "az3")) == [1, 2, 2]
    assert len({m["pod"]["name"] for m in machines}) == 5


def test_five_over_two_zones_is_three_and_two(cluster, maas, inventory):
    nodes = {"cp-%d" % i: "10.10.0.%d" % (130 + i) for i in range(1, 6)}
    run = cluster.up(inventory("duo", nodes, provision_zones=["az1", "az2"], provision_memory="2G", provision_cores=1))
    assert run.ok, run
    zones = [m["zone"]["name"] for m in cluster_machines(maas, "duo")]
    assert sorted([zones.count("az1"), zones.count("az2")]) == [2, 3]
    plan = run.by_host("Plan the LXD VMs over zones and hosts")
    facts = next(iter(plan.values()))["ansible_facts"]["provision_plan"]
    assert facts["zone_counts"] == {"az1": zones.count("az1"), "az2": zones.count("az2")}


def test_new_nodes_fill_the_emptiest_zones(cluster, maas, inventory):
    first = inventory("grow", {"cp-1": "10.10.0.141"}, provision_zones=["az1"])
    assert cluster.up(first).ok
    grown = inventory("grow", {"cp-1": "10.10.0.141", "cp-2": "10.10.0.142", "cp-3": "10.10.0.143"})
    run = cluster.up(grown)
    assert run.ok, run
    zones = {m["hostname"]: m["zone"]["name"] for m in cluster_machines(maas, "grow")}
    assert zones["cp-1"] == "az1"
    assert sorted([zones["cp-2"], zones["cp-3"]]) == ["az2", "az3"]


def test_check_mode_sends_no_write(cluster, maas):
    run = cluster.up("demo.yml", check=True)
    assert run.ok, run
    assert run.writes == [], run.write_summary()
    assert machines_named(maas, DEMO_IPS) == []
    # The machines are still to be created: each one's address for the API endpoint is the static IP the real run gives.
    chosen = run.by_host("Keep the machine (as the deployment's wait read it last) and choose its address for the API endpoint")
    assert {host: result["ansible_facts"]["deploy_api_ip"] for host, result in chosen.items()} == DEMO_IPS, chosen


def test_custom_endpoint_and_port_skip_the_dns_record(cluster, maas, inventory):
    inv = inventory("lb", {"lb-cp-1": "10.10.0.151"})
    inv["all"]["vars"].update(lxdcp_api_endpoint="k8s.example.com", lxdcp_api_port=8443)
    run = cluster.up(inv)
    assert run.ok, run
    summary = run.by_host("Show the control plane and its API endpoint")["lb-cp-1"]["msg"]
    assert summary[-1] == "API endpoint: https://k8s.example.com:8443"
    assert dns_record(maas, "lb-api.maas") is None
    run = cluster.down(inv)
    assert run.ok, run
    assert machines_named(maas, ["lb-cp-1"]) == []


# -- bad input fails before anything is changed ------------------------------------------------------


def test_repeated_static_ip_fails_before_any_write(cluster, maas, inventory):
    run = cluster.up(inventory("dup", {"dup-1": "10.10.0.171", "dup-2": "10.10.0.171"}))
    assert not run.ok
    assert "Repeated" in " ".join(run.failures().values()) and "10.10.0.171 (dup-1, dup-2)" in " ".join(run.failures().values())
    assert run.writes == []
    assert machines_named(maas, ["dup-1", "dup-2"]) == []


def test_ip_in_the_dynamic_range_fails_before_any_write(cluster, maas, inventory):
    run = cluster.up(inventory("dyn", {"dyn-1": "10.10.0.210"}))
    assert not run.ok
    assert "dynamic" in " ".join(run.failures().values()).lower()
    assert run.writes == []


def test_missing_cluster_name_is_a_clear_error(cluster, inventory):
    inv = inventory("x", {"nameless-1": "10.10.0.181"})
    del inv["all"]["vars"]["lxdcp_cluster"]
    run = cluster.up(inv)
    assert not run.ok
    # control_plane.yml checks the deploy settings first (the deploy role's prepare part), before anything is changed;
    # the DNS name the cluster's name would give is not reported on top.
    assert run.failures()["nameless-1"] == "nameless-1: set deploy_cluster (or lxdcp_cluster) to the name of the cluster"
    assert run.writes == []


def test_no_room_names_the_tightest_constraint_before_any_write(cluster, inventory):
    run = cluster.up(inventory("huge", {"huge-1": "10.10.0.191"}, provision_cores=512))
    assert not run.ok
    message = " ".join(run.failures().values())
    assert "cannot place 1 VM" in message and "cpu" in message
    assert run.writes == []


def test_machine_of_another_cluster_is_refused(cluster, maas, inventory):
    assert cluster.up(inventory("mine", {"shared-1": "10.10.0.196"})).ok
    # theirs-api points at shared-1 too: the refusal comes before the record would be looked at.
    maas.post("dnsresources/", {"fqdn": "theirs-api.maas", "ip_addresses": "10.10.0.196"})
    run = cluster.down(inventory("theirs", {"shared-1": "10.10.0.196", "theirs-2": "10.10.0.197"}))
    assert not run.ok
    machine = machines_named(maas, ["shared-1"])[0]
    assert run.failures()["shared-1"] == (
        "Refusing to remove shared-1 (%s): it belongs to cluster mine, not theirs. Nothing was changed; check the inventory "
        "(lxdcp_cluster, lxdcp_hostname)." % machine["system_id"])
    assert run.writes == [], run.write_summary()
    assert machine["status_name"] == "Deployed" and dns_record(maas, "theirs-api.maas") is not None


# -- mixed cluster: control plane on LXD VMs, workers on bare metal -------------------------------------


def test_mixed_cluster_from_one_inventory(sim_factory, bind, inventory):
    sim = sim_factory(scenario=scenario_with_metal(3), timings=SimServer.FAST_TIMINGS)
    runner, maas = bind(sim)
    inv = inventory("mixed", {"mixed-cp-1": "10.10.0.61", "mixed-cp-2": "10.10.0.62", "mixed-cp-3": "10.10.0.63"},
                    workers={"mixed-w-1": {"provision_cores": 8, "provision_memory": "32G"},
                             "mixed-w-2": {"provision_cores": 8, "provision_memory": "32G"}})
    run = runner.up(inv)
    assert run.ok, (run, run.failures())
    machines = {m["hostname"]: m for m in cluster_machines(maas, "mixed")}
    assert sorted(machines) == ["mixed-cp-1", "mixed-cp-2", "mixed-cp-3", "mixed-w-1", "mixed-w-2"]
    assert all(machines["mixed-cp-%d" % i]["pod"] for i in (1, 2, 3))
    workers = [machines["mixed-w-1"], machines["mixed-w-2"]]
    assert all(w["pod"] is None and w["status_name"] == "Deployed" for w in workers)
    # A bare-metal worker gets an automatic address when it is deployed: it is deployed only after every VM of the play
    # has its static IP (deployed earlier, it could take an address planned for a VM not composed yet).
    last_link = max(i for i, r in enumerate(run.requests) if r["op"] == "link_subnet")
    worker_paths = ["/MAAS/api/2.0/machines/%s/" % w["system_id"] for w in workers]
    worker_deploys = [i for i, r in enumerate(run.requests) if r["op"] == "deploy" and r["path"] in worker_paths]
    assert len(worker_deploys) == 2 and min(worker_deploys) > last_link, run.requests
    summary = run.by_host("Show the control plane and its API endpoint")["mixed-cp-1"]["msg"]
    assert provider_ids(summary) == provider_ids_of(machines, vms="maas-lxd")
    record = dns_record(maas, "mixed-api.maas")
    assert sorted(ip["ip"] for ip in record["ip_addresses"]) == ["10.10.0.61", "10.10.0.62", "10.10.0.63"]
    # The deployments are waited for together: after the last one started, no machine is read on its own, and each
    # poll asks for every machine still deploying (GET /machines/?id=..&id=..).
    last_deploy = max(i for i, r in enumerate(run.requests) if r["op"] == "deploy")
    after = run.requests[last_deploy + 1:]
    assert not [r for r in after if r["method"] == "GET" and r["path"].startswith("/MAAS/api/2.0/machines/") and
                r["path"] != "/MAAS/api/2.0/machines/"], after
    polls = [r for r in after if r["path"] == "/MAAS/api/2.0/machines/" and r["query"].startswith("id=")]
    assert polls and polls[0]["query"].count("id=") == 5, polls

    run = runner.up(inv)
    assert run.ok and set(run.changed.values()) == {0} and run.writes == [], run.write_summary()
    # A machine the provision role found Deployed has no deployment step to run: each host skips it with one task.
    deploying = run.by_host("Deploy the machines that need it and wait for the deployments")
    assert sorted(deploying) == sorted(machines) and all("skip_reason" in r for r in deploying.values()), deploying
    assert not [t for t in run.tasks if "Deploy the machine with its cloud-init user data" in t["task"]], run.tasks

    # VMs' provider IDs as CAPMAAS writes them (lxdcp_vm_provider_id_scheme: maas): only what is shown changes.
    inv["all"]["vars"]["lxdcp_vm_provider_id_scheme"] = "maas"
    run = runner.up(inv)
    assert run.ok and set(run.changed.values()) == {0} and run.writes == [], run.write_summary()
    summary = run.by_host("Show the control plane and its API endpoint")["mixed-cp-1"]["msg"]
    assert provider_ids(summary) == provider_ids_of(machines, vms="maas")
    del inv["all"]["vars"]["lxdcp_vm_provider_id_scheme"]

    run = runner.down(inv)
    assert run.ok, run
    left = {m["hostname"]: m for m in machines_named(maas, list(machines))}
    assert sorted(left) == ["mixed-w-1", "mixed-w-2"]  # bare metal is released, not deleted
    assert all(m["status_name"] == "Ready" and "lxdcp-cluster-mixed" not in m["tag_names"] for m in left.values())
    assert dns_record(maas, "mixed-api.maas") is None
