"""The release role (playbooks/teardown.yml) against maas-sim: what it deletes is the cluster's, and it says what it did.

- The addresses of the play's machines (and static IPs) are taken out of the API endpoint's DNS record by the role,
  before the machines; the record is deleted once no address is left, and a record holding other addresses keeps
  them.
- A static IP's reservation is released only when the API user made it for the machine (its DNS name is the
  machine's hostname); any other holder keeps it.
- A VM host that does not get the VM's capacity back fails the role with a clear message.
"""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils.maas.api import MaasClient
from ansible_collections.lxdcp.maas.tests.integration.roles.maas_state import dns_record, machines_named, record_ips

SMALL = {"provision_cores": 1, "provision_memory": "2G", "provision_disk_size": "10G"}
DELETE_RECORD = "Take the play's machines out of the API endpoint's DNS record (delete it when no address is left)"
REMOVE = "Release and delete the machine (bare metal is released; deleted only with release_delete_bare_metal)"


def summary(run):
    """The role's closing message."""
    return next(iter(run.by_host("Show what was removed").values()))["msg"]


def test_the_role_deletes_the_record_before_the_machines_and_says_so(cluster, maas, inventory):
    inv = inventory("rel", {"rel-cp-1": "10.10.0.71", "rel-cp-2": "10.10.0.72"}, **SMALL)
    inv["all"]["vars"]["lxdcp_api_dns_name"] = "k8s-rel"
    assert cluster.up(inv).ok
    assert record_ips(maas, "k8s-rel.maas") == ["10.10.0.71", "10.10.0.72"]

    run = cluster.down(inv, check=True)
    assert run.ok and run.writes == [], run.write_summary()
    assert summary(run).endswith("DNS record k8s-rel.maas would be removed (10.10.0.71, 10.10.0.72).")
    assert record_ips(maas, "k8s-rel.maas") == ["10.10.0.71", "10.10.0.72"]
    predicted = sorted(action[len("would "):] for result in run.by_host(REMOVE).values() for action in result["actions"])

    run = cluster.down(inv)
    assert run.ok, run
    # The check run predicted every action of the removals, the cluster tag's deletion with them (once: the machine
    # removed last deletes it; in check mode, with the play's machines passed as removed_with, the one sorting last).
    done = sorted(action for result in run.by_host(REMOVE).values() for action in result["actions"])
    assert predicted == done and done.count("delete tag lxdcp-cluster-rel with the cluster's last machine") == 1, done
    assert [result["action"] for result in run.by_host(DELETE_RECORD).values()] == ["delete"]
    assert record_ips(maas, "k8s-rel.maas") is None and machines_named(maas, ["rel-cp-1", "rel-cp-2"]) == []
    assert summary(run).endswith("DNS record k8s-rel.maas removed (10.10.0.71, 10.10.0.72).")
    # The record went first, while the machines still held its addresses (MAAS would otherwise drop it with them).
    writes = run.write_summary()
    record_deleted = next(i for i, w in enumerate(writes) if w.startswith("DELETE /MAAS/api/2.0/dnsresources/"))
    first_release = next(i for i, w in enumerate(writes) if w.endswith("op=release"))
    assert record_deleted < first_release, writes

    run = cluster.down(inv)
    assert run.ok and run.writes == [], run.write_summary()
    assert summary(run) == "Cluster rel: no machine to remove; DNS record k8s-rel.maas absent."
    # Nothing left: one read of the machines for the whole cluster, the record, and who holds each static IP.
    assert sorted((r["path"], r.get("op")) for r in run.requests) == [
        ("/MAAS/api/2.0/dnsresources/", None), ("/MAAS/api/2.0/machines/", None),
        ("/MAAS/api/2.0/subnets/ip:10.10.0.71/", "ip_addresses"), ("/MAAS/api/2.0/subnets/ip:10.10.0.72/", "ip_addresses")]
    assert not maas.get_tag("lxdcp-cluster-rel")  # it went with the cluster's last machine


def test_a_record_that_also_holds_another_address_keeps_it(cluster, maas, inventory):
    inv = inventory("fx", {"fx-cp-1": "10.10.0.73"}, **SMALL)
    assert cluster.up(inv).ok
    record = dns_record(maas, "fx-api.maas")
    maas.put("dnsresources/%s/" % record["id"], {"ip_addresses": "10.10.0.73 10.10.0.52"})  # 10.10.0.52: worker-01's

    run = cluster.down(inv)
    assert run.ok, run
    assert machines_named(maas, ["fx-cp-1"]) == []
    assert [w for w in run.write_summary() if "/dnsresources/" in w] == ["PUT /MAAS/api/2.0/dnsresources/%s/" % record["id"]]
    assert record_ips(maas, "fx-api.maas") == ["10.10.0.52"]
    assert summary(run).endswith("DNS record fx-api.maas updated: took out 10.10.0.73, it keeps 10.10.0.52.")


def test_a_record_named_by_mistake_is_not_deleted(cluster, maas, inventory):
    # registry.maas (10.10.0.30) belongs to the scenario, not to this cluster, which has no machine at all.
    inv = inventory("oops", {"oops-cp-1": "10.10.0.74"})
    inv["all"]["vars"]["lxdcp_api_dns_name"] = "registry"
    run = cluster.down(inv)
    assert run.ok, run
    assert run.writes == [], run.write_summary()
    assert record_ips(maas, "registry.maas") == ["10.10.0.30"]
    assert summary(run).endswith("DNS record registry.maas unchanged: it holds none of these machines' addresses (10.10.0.30).")


def test_only_reservations_made_for_the_machine_are_released(cluster, maas, maas_sim, inventory):
    other_user = MaasClient(maas_sim.url, maas_sim.user_api_key)
    maas.post("ipaddresses/", data={"ip": "10.10.0.91", "hostname": "own-1"}, op="reserve")  # for this machine
    maas.post("ipaddresses/", data={"ip": "10.10.0.92", "hostname": "vip"}, op="reserve")  # for another name
    maas.post("ipaddresses/", data={"ip": "10.10.0.93"}, op="reserve")  # for no name: not known to be own-3's
    other_user.post("ipaddresses/", data={"ip": "10.10.0.94", "hostname": "own-4"}, op="reserve")  # another user's
    inv = inventory("own", {"own-%d" % i: "10.10.0.9%d" % i for i in range(1, 6)})

    run = cluster.down(inv)
    assert run.ok, run
    assert run.write_summary() == ["POST /MAAS/api/2.0/ipaddresses/ op=release"]
    held = sorted(address["ip"] for address in maas.ip_addresses(all_users=True) if address["ip"].startswith("10.10.0.9"))
    assert held == ["10.10.0.92", "10.10.0.93", "10.10.0.94"]
    text = summary(run)
    assert "static IP reservations released: 10.10.0.91; " in text
    assert "10.10.0.92 kept: a reservation of user lxdcp for DNS name vip.maas, not for own-2; " in text
    assert "10.10.0.93 kept: a reservation of user lxdcp (no DNS name), so it is not known to be own-3's; " in text
    assert "10.10.0.94 kept: a reservation of user user for DNS name own-4.maas, not yours; " in text
    assert "10.10.0.95" not in text  # free: nothing to say

    run = cluster.down(inv)
    assert run.ok and run.writes == [], run.write_summary()


def test_capacity_not_restored_fails_clearly(cluster, maas, inventory):
    inv = inventory("cap", {"cap-cp-1": "10.10.0.75"}, **SMALL)
    assert cluster.up(inv).ok
    # MAAS's record of the VM now claims more cores than its host ever gave it (the host's usage comes from the
    # VM itself), so the host cannot free that much when the VM goes: what a VM host that is out of step looks like.
    machine = machines_named(maas, ["cap-cp-1"])[0]
    maas.update_machine(machine["system_id"], {"cpu_count": 512})

    run = cluster.down(inv, extra_vars={"release_wait_timeout": 5})
    assert not run.ok
    assert run.failures() == {"cap-cp-1": "cap-cp-1 was deleted but its VM host did not get its capacity back; check the VM host "
                                          "in MAAS (a refresh of the VM host may be needed)."}
    assert machines_named(maas, ["cap-cp-1"]) == []
    assert run.by_host("Release and delete the machine (bare metal is released; deleted only with release_delete_bare_metal)")[
        "cap-cp-1"]["capacity_restored"] is False


def test_a_machine_lxdcp_did_not_create_is_refused_before_any_change(cluster, maas, inventory):
    # db-01 is the scenario's own VM (no lxdcp tag); the play's DNS record exists and would otherwise go first.
    maas.post("dnsresources/", {"fqdn": "db-api.maas", "ip_addresses": "10.10.0.50"})
    run = cluster.down(inventory("db", {"db-01": ""}))
    assert not run.ok
    machine = machines_named(maas, ["db-01"])[0]
    assert run.failures() == {"db-01": "Refusing to remove db-01 (%s): it lacks the ownership tags lxdcp-managed and "
                                       "lxdcp-cluster-db, so it was not created by lxdcp.maas for cluster db. Nothing was "
                                       "changed; check the inventory (lxdcp_cluster, lxdcp_hostname)." % machine["system_id"]}
    assert run.writes == [], run.write_summary()
    assert machine["status_name"] == "Deployed" and record_ips(maas, "db-api.maas") == ["10.10.0.50"]


def test_replacing_every_node_keeps_the_cluster_tag_and_check_mode_says_so(cluster, maas, inventory):
    # rep-cp-1 marked absent and rep-cp-2 new in one control_plane.yml run: the new node is composed first and carries
    # the cluster's tag. Check mode composes nothing, so without release_keep_cluster_tag it predicted the deletion.
    inv = inventory("rep", {"rep-cp-1": "10.10.0.75"}, **SMALL)
    assert cluster.up(inv).ok
    inv = inventory("rep", {"rep-cp-1": "10.10.0.75", "rep-cp-2": "10.10.0.76"}, **SMALL)
    inv["all"]["children"]["control_plane"]["hosts"]["rep-cp-1"]["lxdcp_state"] = "absent"

    check = cluster.up(inv, check=True)
    assert check.ok and check.writes == [], check.write_summary()
    predicted = [a for result in check.by_host(REMOVE).values() for a in result["actions"]]
    assert predicted and not [a for a in predicted if "lxdcp-cluster-rep" in a], predicted

    run = cluster.up(inv)
    assert run.ok, run
    done = [a for result in run.by_host(REMOVE).values() for a in result["actions"]]
    assert sorted(a[len("would "):] for a in predicted) == sorted(done), (predicted, done)
    assert sum(check.changed.values()) == sum(run.changed.values()), (check.changed, run.changed)
    assert maas.get_tag("lxdcp-cluster-rep") and machines_named(maas, ["rep-cp-1"]) == []
    assert [m["hostname"] for m in machines_named(maas, ["rep-cp-2"])] == ["rep-cp-2"]
