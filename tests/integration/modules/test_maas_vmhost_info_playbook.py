"""maas_vmhost_info through ansible-playbook against maas-sim."""

from __future__ import annotations

from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import sim_objects

MODULE = "lxdcp.maas.maas_vmhost_info"


def test_lists_every_lxd_host_with_capacity_and_health(playbook, maas_sim):
    run = playbook.run({MODULE: {}})
    assert run.ok and run.result["changed"] is False
    hosts = {h["name"]: h for h in run.result["vm_hosts"]}
    pods = {p["name"]: p for p in sim_objects(maas_sim, "pod")}
    assert set(hosts) == set(pods)
    vms = sim_objects(maas_sim, "vm")
    for name, host in hosts.items():
        pod = pods[name]
        used_cores = sum(v["cores"] for v in vms if v["pod_id"] == pod["id"])
        used_memory = sum(v["memory"] for v in vms if v["pod_id"] == pod["id"])
        assert host["used"]["cores"] == used_cores and host["used"]["memory"] == used_memory
        assert host["free"]["cores"] == pod["cores"] * pod["cpu_over_commit_ratio"] - used_cores
        assert host["free"]["memory"] == pod["memory"] * pod["memory_over_commit_ratio"] - used_memory
        assert host["health"]["state"] == "healthy"
    assert hosts["lxd-az1-a"]["free"]["cores"] == 32 * 4 - 8
    assert hosts["lxd-az2-a"]["storage_pools"][0]["available_gb"] == 650.0
    assert run.writes == []
    machine_reads = [e for e in run.requests if e["path"].endswith("/machines/")]
    assert len(machine_reads) == 1


def test_filters_and_check_mode(playbook):
    run = playbook.run({MODULE: {"zone": ["az2"], "pool": "control-plane"}}, check=True)
    assert [h["name"] for h in run.result["vm_hosts"]] == ["lxd-az2-b"]
    tagged = playbook.run({MODULE: {"tags": ["ssd"]}})
    assert sorted(h["name"] for h in tagged.result["vm_hosts"]) == ["lxd-az1-a", "lxd-az2-a"]
    assert run.writes == [] and tagged.writes == []


def test_project_is_opt_in_and_never_leaks_secrets(playbook):
    run = playbook.run({MODULE: {"name": ["lxd-az1-a"], "include_project": True}})
    host = run.result["vm_hosts"][0]
    assert host["project"] == "default"
    parameters = [e for e in run.requests if e.get("op") == "parameters"]
    assert len(parameters) == 1
    assert "password" not in repr(run.result) and "BEGIN" not in repr(run.result)


def test_project_without_admin_rights(playbook, maas_sim):
    run = playbook.run({MODULE: {"name": ["lxd-az1-a"], "include_project": True, "api_key": maas_sim.user_api_key}})
    assert run.ok and run.result["vm_hosts"][0]["project"] is None
    assert any("op=parameters needs a MAAS admin key" in w for w in run.result.get("warnings", []))


def test_offline_host_is_unhealthy(playbook, maas_sim):
    maas_sim.faults(vmhost_offline=["lxd-az2-b"])
    run = playbook.run({MODULE: {"name": ["lxd-az2-b"]}})
    health = run.result["vm_hosts"][0]["health"]
    assert health["healthy"] is False and health["power_state"] == "error"
    assert health["reason"] == "backing machine lxd-az2-b is powered error"
