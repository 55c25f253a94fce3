"""The maas_placement lookup through ansible-playbook against maas-sim's default scenario.

Default scenario: zones az1-az3, pool ``default`` with one large host per zone (lxd-az1-a,
lxd-az2-a, lxd-az3-a), pool ``control-plane`` with one smaller host per zone (the ``-b`` hosts).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import yaml

from simharness import SimServer, default_scenario_path  # pylint: disable=import-error

from ansible_collections.lxdcp.maas.plugins.module_utils.maas.api import MaasClient
from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import Playbook

NAMES = ["cp-1", "cp-2", "cp-3"]


def default_scenario():
    with open(default_scenario_path(), encoding="utf-8") as handle:
        return copy.deepcopy(yaml.safe_load(handle))


def zones(plan):
    return [item["zone"] for item in plan["placements"]]


def test_three_vms_one_per_zone_with_four_reads(plan):
    result, run = plan(NAMES, cluster="demo", cores=4, memory="16G", disk="40G")
    assert sorted(zones(result)) == ["az1", "az2", "az3"]
    assert [item["hostname"] for item in result["placements"]] == NAMES
    assert len({item["vm_host"] for item in result["placements"]}) == 3
    assert result["zone_counts"] == {"az1": 1, "az2": 1, "az3": 1} and not result["warnings"]
    reads = [(entry["method"], entry["path"].split("/api/2.0/")[1], entry["op"]) for entry in run.requests]
    # VM hosts, the machines behind them, the cluster, and the names that are no tagged machine of it (one of them may
    # be a VM an interrupted run left untagged, which the plan keeps where it is).
    assert reads == [("GET", "vm-hosts/", None), ("GET", "machines/", None), ("GET", "machines/", None), ("GET", "machines/", None)]
    assert run.writes == []


def _eligible_by_zone(maas, result):
    rejected = {item["host"] for item in result["rejected"]}
    by_zone = {}
    for host in maas.list_vm_hosts():
        if host["name"] not in rejected:
            by_zone.setdefault(host["zone"]["name"], []).append(host)
    return by_zone


def test_least_allocated_cpu_picks_the_fewest_allocated_cores_per_zone(plan, maas_sim):
    result, _run = plan(NAMES, strategy="least-allocated-cpu", cores=2, memory=4096)
    by_zone = _eligible_by_zone(MaasClient(maas_sim.url, maas_sim.api_key), result)
    for item in result["placements"]:
        fewest = min(host["used"]["cores"] for host in by_zone[item["zone"]])
        chosen = next(host for host in by_zone[item["zone"]] if host["name"] == item["vm_host"])
        assert chosen["used"]["cores"] == fewest, item


def test_most_free_picks_the_most_room_per_zone(plan, maas_sim):
    cores, memory = 2, 4096
    result, _run = plan(NAMES, strategy="most-free", cores=cores, memory=memory)
    by_zone = _eligible_by_zone(MaasClient(maas_sim.url, maas_sim.api_key), result)

    def room(host):
        free_cores = host["total"]["cores"] * host["cpu_over_commit_ratio"] - host["used"]["cores"]
        free_memory = host["total"]["memory"] * host["memory_over_commit_ratio"] - host["used"]["memory"]
        return free_cores / cores + free_memory / memory

    for item in result["placements"]:
        best = max(room(host) for host in by_zone[item["zone"]])
        chosen = next(host for host in by_zone[item["zone"]] if host["name"] == item["vm_host"])
        assert room(chosen) == best, item


def test_pool_filter_rejects_the_other_pool(plan):
    result, _run = plan(NAMES, pool="control-plane")
    assert sorted(item["vm_host"] for item in result["placements"]) == ["lxd-az1-b", "lxd-az2-b", "lxd-az3-b"]
    assert {item["code"] for item in result["rejected"]} == {"pool"}


def test_existing_vms_keep_their_host_and_new_ones_fill_the_emptiest_zones(plan, maas_sim, tmp_path):
    compose = [{"lxdcp.maas.maas_lxd_vm": {"hostname": name, "cluster": "grow", "vm_host": host, "cores": 2, "memory": "4G",
                                           "wait": False}} for name, host in (("cp-1", "lxd-az1-a"), ("cp-2", "lxd-az1-b"))]
    assert Playbook(maas_sim, tmp_path).run(compose).ok
    result, run = plan(["cp-1", "cp-2", "cp-3", "cp-4"], cluster="grow", cores=2, memory=4096)
    first, second, third, fourth = result["placements"]
    assert (first["vm_host"], first["existing"]) == ("lxd-az1-a", True)
    assert (second["vm_host"], second["existing"]) == ("lxd-az1-b", True)
    assert sorted([third["zone"], fourth["zone"]]) == ["az2", "az3"]
    assert result["zone_counts"] == {"az1": 2, "az2": 1, "az3": 1}
    assert run.writes == []

    again, _run = plan(["cp-1", "cp-2", "cp-3", "cp-4"], cluster="grow", cores=2, memory=4096)
    assert again["placements"] == result["placements"]


def test_zone_without_room_is_in_the_warnings(sim_factory, lookup_run):
    scenario = default_scenario()
    for host in scenario["vm_hosts"]:
        if host["zone"] == "az3":
            host["cores"] = 2
            host["cpu_over_commit_ratio"] = 1.0
            host.pop("vms", None)
    scenario["machines"] = [m for m in scenario.get("machines") or [] if not str(m.get("vm_host", "")).startswith("lxd-az3")]
    sim = sim_factory(scenario=scenario, timings=SimServer.FAST_TIMINGS)
    run = lookup_run(NAMES, sim=sim, cores=4, memory=4096)
    assert run.ok, run.stdout[-2000:]
    result = run.task("plan")["msg"]
    assert "az3" not in zones(result)
    assert sorted(zones(result)) == ["az1", "az1", "az2"] or sorted(zones(result)) == ["az1", "az2", "az2"]
    assert {item["host"]: item["code"] for item in result["rejected"]} == {"lxd-az3-a": "cpu", "lxd-az3-b": "cpu"}
    warning = " ".join(result["warnings"])
    assert "zone az3 ran out of room" in warning and "2 hosts lack 4 cores free" in warning


def test_offline_vm_host_is_rejected_as_unhealthy(maas_sim, plan):
    maas_sim.faults(vmhost_offline=["lxd-az1-a"])
    result, _run = plan(NAMES, pool="default")
    rejected = {item["host"]: item for item in result["rejected"] if item["code"] == "unhealthy"}
    assert list(rejected) == ["lxd-az1-a"] and "powered error" in rejected["lxd-az1-a"]["reason"]
    assert "az1" not in zones(result)


def test_vm_hosts_gone_fails_with_the_reason(maas_sim, lookup_run):
    maas_sim.faults(vmhost_gone=True)
    run = lookup_run(NAMES)
    assert not run.ok
    message = run.task("plan")["msg"]
    # lxd_via auto (the default) turns to direct mode on the 410, and this site has no LXD host: both are said.
    assert "MAAS has no VM hosts (it answers 410 Gone" in message
    assert "no LXD host: no MAAS machine carries the tag lxd-host (lxd_host_tag)" in message
    assert maas_sim.api_key.split(":")[2] not in run.stdout + run.stderr


def test_vvv_prints_the_explanation(lookup_run):
    run = lookup_run(NAMES, cluster="demo", verbosity=3)
    assert run.ok
    assert "maas_placement: strategy most-free: 3 VM(s), 3 new, 0 kept" in run.stdout
    assert "maas_placement: zones: az1=1, az2=1, az3=1 (spread 0, max_skew 1)" in run.stdout


# -- only LXD VM hosts ---------------------------------------------------------------------------


def test_bigger_virsh_vm_hosts_are_rejected_not_planned(sim_factory, plan):
    scenario = default_scenario()
    scenario["vm_hosts"] += [{
        "name": "virsh-az%d" % index, "type": "virsh", "zone": "az%d" % index, "pool": "default", "cores": 256,
        "memory": 1048576, "cpu_over_commit_ratio": 4.0, "storage_pools": [{"name": "default", "type": "dir", "size": "10T"}],
        "host": {"hostname": "virsh-az%d" % index, "ip": "10.10.0.%d" % (20 + index)},
    } for index in (1, 2, 3)]
    sim = sim_factory(scenario=scenario, timings=SimServer.FAST_TIMINGS)
    assert {host["type"] for host in MaasClient(sim.url, sim.api_key).list_vm_hosts()} == {"lxd", "virsh"}
    result, run = plan(NAMES, sim=sim, cluster="demo", pool="default", cores=4, memory="16G")
    assert sorted(item["vm_host"] for item in result["placements"]) == ["lxd-az1-a", "lxd-az2-a", "lxd-az3-a"]
    rejected = {item["host"]: item for item in result["rejected"]}
    assert {name: item["code"] for name, item in rejected.items()} == {
        "virsh-az1": "type", "virsh-az2": "type", "virsh-az3": "type", "lxd-az1-b": "pool", "lxd-az2-b": "pool", "lxd-az3-b": "pool"}
    assert rejected["virsh-az1"]["reason"] == "virsh VM host, not LXD: maas_lxd_vm composes LXD VMs only"
    assert "rejected virsh-az2 (az2): virsh VM host, not LXD: maas_lxd_vm composes LXD VMs only" in result["explanation"]
    assert run.writes == []


# -- the lookup in play vars and ad hoc ------------------------------------------------------------


def _lookup_expression(sim, *terms, **options):
    options = dict(options, url=sim.url, api_key=sim.api_key)
    arguments = ", ".join([repr(term) for term in terms] + ["%s=%r" % item for item in options.items()])
    return "lookup('lxdcp.maas.maas_placement', %s)" % arguments


def test_lookup_in_play_vars_is_evaluated_where_it_is_used(maas_sim, tmp_path):
    tasks = [
        {"name": "zones", "ansible.builtin.debug": {"msg": "{{ cp_plan.placements | map(attribute='zone') | sort | list }}"}},
        {"name": "plan", "ansible.builtin.debug": {"var": "cp_plan"}},
    ]
    plan_vars = {"cp_plan": "{{ %s }}" % _lookup_expression(maas_sim, "cp-1", "cp-2", "cp-3", cluster="vars", cores=2, memory="4G")}
    run = Playbook(maas_sim, tmp_path).run(tasks, auth=False, extra_vars=plan_vars)
    assert run.ok, run.stdout[-3000:]
    assert run.task("zones")["msg"] == ["az1", "az2", "az3"]
    result = run.task("plan")["cp_plan"]
    assert [item["hostname"] for item in result["placements"]] == ["cp-1", "cp-2", "cp-3"]
    # A play variable is templated at each use: two uses, two plans of four reads each, never a write.
    assert len(run.requests) == 8 and run.writes == []


def test_lookup_ad_hoc(maas_sim, tmp_path):
    environment = Playbook(maas_sim, tmp_path).environment({"MAAS_URL": maas_sim.url, "MAAS_API_KEY": maas_sim.api_key})
    expression = "lookup('lxdcp.maas.maas_placement', 'cp-1', 'cp-2', cluster='adhoc', zones=['az1', 'az2'])"
    command = [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-c", "local", "-m", "ansible.builtin.debug",
               "-a", "msg={{ %s }}" % expression]
    mark = maas_sim.seq()
    done = subprocess.run(command, cwd=str(tmp_path), env=environment, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    header, _arrow, body = done.stdout.partition(" => ")
    assert header.strip() == "localhost | SUCCESS"
    result = json.loads(body)["msg"]
    assert [(item["hostname"], item["zone"]) for item in result["placements"]] in (
        [("cp-1", "az1"), ("cp-2", "az2")], [("cp-1", "az2"), ("cp-2", "az1")])
    # The zones checked against MAAS, then VM hosts, machines behind them, the cluster and the names.
    assert result["zone_counts"] == {"az1": 1, "az2": 1} and result["requests"] == 5
    assert [entry["write"] for entry in maas_sim.requests(mark)] == [False] * 5
    assert maas_sim.api_key.split(":")[2] not in done.stdout + done.stderr


# -- old option names: still accepted, with a deprecation warning ----------------------------------


def test_old_option_names_still_work_and_are_deprecated(maas_sim, plan, tmp_path):
    """The lookup's ``tags`` (now ``host_tags``) and the modules' ``zone`` (now ``zones``) plan and act as before."""
    new, _run = plan(["cp-1", "cp-2"], pool="default", host_tags=["ssd"], cores=2, memory=4096)
    old, run = plan(["cp-1", "cp-2"], pool="default", tags=["ssd"], cores=2, memory=4096)
    assert sorted(item["vm_host"] for item in new["placements"]) == ["lxd-az1-a", "lxd-az2-a"]
    assert old["placements"] == new["placements"] and old["rejected"] == new["rejected"]
    assert "tags" in run.stderr + run.stdout and "host_tags" in run.stderr + run.stdout and "deprecat" in (run.stderr + run.stdout).lower()
    tasks = [{"name": "info", "lxdcp.maas.maas_vmhost_info": {"zone": ["az1"], "tags": ["ssd"]}}]
    info = Playbook(maas_sim, tmp_path).run(tasks)
    assert info.ok, info.stdout[-3000:]
    assert [host["name"] for host in info.task("info")["vm_hosts"]] == ["lxd-az1-a"]
    assert "deprecat" in (info.stdout + info.stderr).lower() and "zone" in info.stdout + info.stderr
