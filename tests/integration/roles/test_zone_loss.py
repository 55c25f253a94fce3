"""Losing a zone after the cluster is up (requirement 3.3): every VM host of one zone offline (maas-sim's vmhost_offline).

The main job runs again: the VMs of the other zones are not touched, the run says which machines are in the lost zone and
their state, and fails on them only with provision_fail_on_lost_zone. A lost node is replaced as docs/roles.md says
(lxdcp_state: absent on it, a new host in the inventory), and the new VM keeps the spread rules.
"""

from __future__ import annotations

from ansible_collections.lxdcp.maas.tests.integration.roles.maas_state import cluster_machines, machines_named, record_ips

IPS = {"demo-cp-1": "10.10.0.101", "demo-cp-2": "10.10.0.102", "demo-cp-3": "10.10.0.103"}
AZ1 = ["lxd-az1-a", "lxd-az1-b"]


def demo(inventory, absent=(), extra=None):
    nodes = dict(IPS)
    nodes.update(extra or {})
    built = inventory("demo", nodes, provision_zones=["az1", "az2", "az3"], provision_pool="default",
                      provision_cores=4, provision_memory="16G", provision_disk_size="40G")
    for name in absent:
        built["all"]["children"]["control_plane"]["hosts"][name]["lxdcp_state"] = "absent"
    return built


def summary_of(run):
    return next(iter(run.by_host("Show the control plane and its API endpoint").values()))["msg"]


def test_lost_zone_is_reported_left_alone_and_its_node_replaced_in_a_live_zone(cluster, maas, maas_sim, inventory):
    run = cluster.up(demo(inventory))
    assert run.ok, run
    machines = {m["hostname"]: m for m in cluster_machines(maas, "demo")}
    lost = next(name for name, m in machines.items() if m["zone"]["name"] == "az1")
    lost_id = machines[lost]["system_id"]
    live = sorted(set(machines) - {lost})

    maas_sim.faults(vmhost_offline=AZ1)
    again = cluster.up(demo(inventory))
    assert again.ok, (again, again.stdout[-3000:])
    assert set(again.changed.values()) == {0}, again
    assert again.writes == [], again.write_summary()  # nothing written at all: not to the lost VM, not to the others
    plan = next(iter(again.by_host("Plan the LXD VMs over zones and hosts").values()))["ansible_facts"]["provision_plan"]
    assert [zone["zone"] for zone in plan["lost_zones"]] == ["az1"]
    assert plan["lost_zones"][0]["machines"] == [{"hostname": lost, "system_id": lost_id, "vm_host": "lxd-az1-a",
                                                  "status": "Deployed", "power_state": "error"}]
    assert sorted(h["name"] for h in plan["lost_zones"][0]["hosts"]) == AZ1
    assert any(line.startswith("warning: zone az1 is lost (every VM host in it is unhealthy - ") for line in plan["explanation"])
    # The lost VM's tasks are skipped; the others run (and change nothing).
    composed = again.by_host("Compose the LXD VM on its planned host, or allocate the bare-metal machine, and wait until it is Ready")
    assert "skip_reason" in composed[lost] and all("skip_reason" not in composed[name] for name in live)
    summary = summary_of(again)
    assert "lost zone az1: %s (%s) Deployed, power error on lxd-az1-a, left as it is" % (lost, lost_id) in summary
    assert record_ips(maas, "demo-api.maas") == sorted(IPS.values())

    # Asked to, the run fails on the lost zone, before any change.
    strict = cluster.up(demo(inventory), extra_vars={"provision_fail_on_lost_zone": True})
    assert not strict.ok and strict.writes == [], strict.write_summary()
    assert "az1 lost (provision_fail_on_lost_zone is set): zone az1 is lost" in strict.stdout
    assert "%s (%s) Deployed, power error on lxd-az1-a" % (lost, lost_id) in strict.stdout

    # Check mode predicts the same: nothing to change, and the lost VM named.
    checked = cluster.up(demo(inventory), check=True, diff=True)
    assert checked.ok and checked.writes == [] and set(checked.changed.values()) == {0}, checked
    assert "lost zone az1: %s (%s) Deployed, power error on lxd-az1-a, left as it is" % (lost, lost_id) in summary_of(checked)

    # Replacing the lost node: lxdcp_state absent on it, a new host in the inventory. The new VM goes to a live zone
    # (1 + 2 over az2 and az3, max_skew 1), the lost one is removed from MAAS and from the DNS record.
    replaced = cluster.up(demo(inventory, absent=[lost], extra={"demo-cp-4": "10.10.0.104"}))
    assert replaced.ok, (replaced, replaced.stdout[-3000:])
    after = {m["hostname"]: m for m in cluster_machines(maas, "demo")}
    assert sorted(after) == sorted(live + ["demo-cp-4"])
    assert machines_named(maas, [lost]) == []
    # MAAS cannot release a VM it cannot power off: the machine is deleted without a release, with a warning.
    assert not [w for w in replaced.writes if w["op"] == "release" and lost_id in w["path"]], replaced.write_summary()
    assert [w["method"] for w in replaced.writes if w["path"].endswith("/machines/%s/" % lost_id)] == ["DELETE"]
    # (ansible-core 2.17 and 2.18 wrap warnings at 80 columns.)
    output = " ".join((replaced.stdout + replaced.stderr).split())
    assert "cannot be reached (power state error), so MAAS cannot power it off to release it" in output
    assert after["demo-cp-4"]["zone"]["name"] in ("az2", "az3") and after["demo-cp-4"]["status_name"] == "Deployed"
    assert sorted(m["zone"]["name"] for m in after.values()).count("az1") == 0
    for name in live:
        assert after[name]["system_id"] == machines[name]["system_id"]
        assert not [w for w in replaced.writes if machines[name]["system_id"] in w["path"]], replaced.write_summary()
    assert record_ips(maas, "demo-api.maas") == sorted([IPS[name] for name in live] + ["10.10.0.104"])

    final = cluster.up(demo(inventory, extra={"demo-cp-4": "10.10.0.104"}, absent=[lost]))
    assert final.ok and final.writes == [], final.write_summary()
