"""Role tags: a part of playbooks/control_plane.yml or playbooks/teardown.yml run alone with --tags.

Every part runs on checked inputs (the checks are tagged always) and runs the reads it needs itself: the plan for
composing, the machines as MAAS has them for the DNS record and the summary. See docs/roles.md.
"""
from __future__ import annotations

import copy

from ansible_collections.lxdcp.maas.tests.integration.roles.maas_state import allocated, dns_record, machines_named, record_ips

SMALL = {"provision_cores": 1, "provision_memory": "2G", "provision_disk_size": "10G"}
CHECK = "Check the arguments of the role and the values of this machine"
CHECK_IPS = "Check the static IP plan against MAAS (subnets, dynamic and reserved ranges, addresses in use)"
PLAN = "Plan the LXD VMs over zones and hosts"
COMPOSE = "Compose the LXD VM on its planned host, or allocate the bare-metal machine, and wait until it is Ready"
DEPLOY = "Deploy the machines that need it and wait for the deployments"
DNS = "Point the API endpoint's DNS record at the control-plane machines"
SUMMARY = "Show the control plane and its API endpoint"
DELETE_RECORD = "Take the play's machines out of the API endpoint's DNS record (delete it when no address is left)"
REMOVE = "Release and delete the machine (bare metal is released; deleted only with release_delete_bare_metal)"
TEARDOWN_SUMMARY = "Show what was removed"


def ran(run):
    """Names (without the role prefix) of the tasks that ran or were skipped by a condition (not by tags)."""
    return {task["task"].split(" : ", 1)[-1] for task in run.tasks}


def message(run, task):
    """The message of a run_once task."""
    return next(iter(run.by_host(task).values()))["msg"]


def test_the_checks_alone(cluster, maas, inventory):
    nodes = {"tagv-cp-1": "10.10.0.151", "tagv-cp-2": "10.10.0.152"}
    inv = inventory("tagv", nodes, **SMALL)
    run = cluster.up(inv, tags=["lxdcp_validate"])
    assert run.ok, run
    assert {CHECK, CHECK_IPS} <= ran(run) and not ran(run) & {PLAN, COMPOSE, DEPLOY, DNS, SUMMARY}, ran(run)
    assert run.writes == [], run.write_summary()
    assert machines_named(maas, list(nodes)) == []

    inv["all"]["children"]["control_plane"]["hosts"]["tagv-cp-2"]["lxdcp_hostname"] = "tagv-cp-2.maas"
    run = cluster.up(inv, tags=["lxdcp_validate"])
    assert not run.ok
    assert run.failures() == {"tagv-cp-2": 'tagv-cp-2: hostname "tagv-cp-2.maas" is not a MAAS hostname (letters, digits '
                                           "and -, at most 63 characters, no dots); set lxdcp_hostname"}
    assert run.requests == []


def test_the_plan_alone(cluster, maas, inventory):
    nodes = {"tagp-cp-%d" % i: "10.10.0.%d" % (155 + i) for i in (1, 2, 3)}
    run = cluster.up(inventory("tagp", nodes, **SMALL), tags=["lxdcp_plan"])
    assert run.ok, run
    plan = next(iter(run.by_host(PLAN).values()))["ansible_facts"]["provision_plan"]
    assert sorted(p["hostname"] for p in plan["placements"]) == sorted(nodes)
    assert sorted(p["zone"] for p in plan["placements"]) == ["az1", "az2", "az3"]
    assert not ran(run) & {COMPOSE, DEPLOY, DNS, SUMMARY}, ran(run)
    assert run.writes == [], run.write_summary()
    assert machines_named(maas, list(nodes)) == []


def test_summary_and_dns_record_alone_then_the_teardown_in_parts(cluster, maas, inventory):
    nodes = {"tags-cp-1": "10.10.0.161", "tags-cp-2": "10.10.0.162"}
    inv = inventory("tags", nodes, **SMALL)
    full = cluster.up(inv)
    assert full.ok, full

    # The summary alone reads the machines and shows the table of the full run; nothing is written.
    run = cluster.up(inv, tags=["lxdcp_summary"])
    assert run.ok, run
    assert message(run, SUMMARY) == message(full, SUMMARY)
    assert not ran(run) & {PLAN, COMPOSE, DEPLOY, DNS}, ran(run)
    assert run.writes == [] and set(run.changed.values()) == {0}, run.write_summary()

    # The DNS record alone: put back from the machines' addresses, the only write.
    maas.delete("dnsresources/%d/" % dns_record(maas, "tags-api.maas")["id"])
    run = cluster.up(inv, tags=["lxdcp_dns"])
    assert run.ok, run
    assert record_ips(maas, "tags-api.maas") == sorted(nodes.values())
    assert run.write_summary() == ["POST /MAAS/api/2.0/dnsresources/"], run.write_summary()
    assert not ran(run) & {PLAN, COMPOSE, DEPLOY, SUMMARY}, ran(run)

    # The teardown's summary alone removes nothing.
    run = cluster.down(inv, tags=["lxdcp_summary"])
    assert run.ok and run.writes == [], run.write_summary()
    assert message(run, TEARDOWN_SUMMARY) == "Cluster tags: nothing was removed."

    # The DNS record part of the teardown alone: the machines stay.
    run = cluster.down(inv, tags=["lxdcp_dns"])
    assert run.ok, run
    assert REMOVE not in ran(run)
    assert record_ips(maas, "tags-api.maas") is None and len(machines_named(maas, list(nodes))) == 2
    assert message(run, TEARDOWN_SUMMARY) == "Cluster tags: DNS record tags-api.maas removed (10.10.0.161, 10.10.0.162)."

    # Then the machines alone: the line says nothing of the record.
    run = cluster.down(inv, tags=["lxdcp_release"])
    assert run.ok, run
    assert DELETE_RECORD not in ran(run)
    assert machines_named(maas, list(nodes)) == []
    line = message(run, TEARDOWN_SUMMARY)
    assert line.startswith("Cluster tags: release tags-cp-") and "DNS record" not in line, line
    assert allocated(maas, nodes.values()) == []


def test_control_plane_refuses_a_skipped_part_and_the_table_goes_with_a_variable(cluster, maas, inventory):
    nodes = {"tagk-cp-1": "10.10.0.175"}
    inv = inventory("tagk", nodes, **SMALL)
    # The parts share their reads: skipping one would leave the others without them (the DNS record would be left out
    # without a word, the deployments started without user data). Refused before any request, also when --limit leaves
    # localhost (and so the playbook's first play) out.
    for skipped, limit in (("lxdcp_summary", None), ("lxdcp_dns", None), ("lxdcp_deploy", None), ("lxdcp_dns", "tagk-cp-1")):
        run = cluster.up(inv, skip_tags=[skipped], limit=limit)
        assert not run.ok
        assert list(run.failures()) == ["tagk-cp-1"], run.failures()
        failure = run.failures()["tagk-cp-1"]
        assert failure == (
            "--skip-tags %s: the parts of control_plane.yml share their reads (the machines, the API endpoint, each "
            "machine's deployment), so none can be left out. Choose the parts to run with --tags (docs/roles.md); to "
            "leave the table out, set deploy_show_summary=false. Nothing was changed." % skipped), failure
        assert run.requests == []
    # A wrong lxdcp_state is named in the same check.
    wrong = copy.deepcopy(inv)
    wrong["all"]["children"]["control_plane"]["hosts"]["tagk-cp-1"]["lxdcp_state"] = "gone"
    run = cluster.up(wrong, skip_tags=["lxdcp_dns"])
    assert run.failures() == {"tagk-cp-1": (
        'tagk-cp-1: lxdcp_state "gone": lxdcp_state must be present or absent. --skip-tags lxdcp_dns: the parts of '
        "control_plane.yml share their reads (the machines, the API endpoint, each machine's deployment), so none can "
        "be left out. Choose the parts to run with --tags (docs/roles.md); to leave the table out, set "
        "deploy_show_summary=false. Nothing was changed.")}, run.failures()
    assert run.requests == []
    # The table is left out with deploy_show_summary: false; the rest of the run is whole (the DNS record too).
    run = cluster.up(inv, extra_vars={"deploy_show_summary": False})
    assert run.ok, run
    assert all("skip_reason" in result for result in run.by_host(SUMMARY).values()), run.by_host(SUMMARY)
    assert record_ips(maas, "tagk-api.maas") == ["10.10.0.175"]
    # The teardown takes --skip-tags lxdcp_summary: everything is removed, without the closing line.
    run = cluster.down(inv, skip_tags=["lxdcp_summary"])
    assert run.ok, run
    assert TEARDOWN_SUMMARY not in ran(run)
    assert machines_named(maas, list(nodes)) == [] and record_ips(maas, "tagk-api.maas") is None
