"""maas_vmhost_info and the maas_placement lookup on MAAS 4.0: the LXD hosts of direct mode, read from real LXD daemons."""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils.maas.api import MaasClient

INFO = "lxdcp.maas.maas_vmhost_info"


def lookup_task(direct, names, **options):
    """A task that evaluates the maas_placement lookup for ``names`` against the site."""
    options = dict({"cluster": "prod", "cores": 2, "memory": "4G", "disk": "20G", "lxd_hosts": direct.entries,
                    "url": direct.sim.url, "api_key": direct.sim.api_key}, **options)
    arguments = ", ".join("%s=%r" % item for item in sorted(options.items()))
    expression = "{{ lookup('lxdcp.maas.maas_placement', %r, %s) }}" % (names, arguments)
    return {"name": "plan", "ansible.builtin.set_fact": {"plan": expression}}


def test_vmhost_info_lists_the_lxd_hosts_with_lxd_s_figures(direct, playbook, vm_task):
    listed = playbook.run({INFO: {"lxd_hosts": direct.entries, "include_project": True}})
    assert listed.ok, listed.result.get("msg")
    assert listed.result["via"] == "direct" and listed.writes == []
    hosts = {h["name"]: h for h in listed.result["vm_hosts"]}
    assert sorted(hosts) == ["lxd-az1-a", "lxd-az2-a", "lxd-az3-a"]
    for name, daemon in direct.hosts.items():
        resources = daemon.resources()
        host = hosts[name]
        assert (host["type"], host["url"], host["project"], host["health"]["healthy"]) == ("lxd", daemon.url, "default", True)
        assert host["total"]["cores"] == resources["cpu"]["total"]
        assert host["total"]["memory"] == resources["memory"]["total"] // 1024 ** 2
        assert host["used"] == {"cores": 0, "memory": 0, "local_storage": host["used"]["local_storage"]}
        assert [p["name"] for p in host["storage_pools"]] == ["default"] and host["default_storage_pool"] == "default"
        assert host["host_system_id"] and host["zone"] == "az" + name[len("lxd-az")]
    made = playbook.run(vm_task())
    assert made.ok, made.result.get("msg")
    on = made.result["machine"]["vm_host"]["name"]
    again = playbook.run({INFO: {"lxd_hosts": direct.entries, "name": [on]}})
    host = again.result["vm_hosts"][0]
    assert (host["name"], host["used"]["cores"], host["used"]["memory"]) == (on, 2, 4096)
    assert host["free"]["cores"] == host["total"]["cores"] - 2


def test_vmhost_info_forced_to_vm_hosts_on_maas_40_fails(direct, playbook):
    forced = playbook.run({INFO: {"lxd_via": "vm-host"}})
    assert not forced.ok
    assert "no longer supports VM hosts" in forced.result["msg"] and "Set lxd_via: direct" in forced.result["msg"]


def test_lookup_plans_over_the_lxd_hosts_and_keeps_existing_vms(direct, playbook, vm_task):
    planned = playbook.run(lookup_task(direct, ["cp-1", "cp-2", "cp-3"]))
    assert planned.ok, planned.result.get("msg")
    plan = planned.result["ansible_facts"]["plan"]
    assert (plan["via"], plan["source"]) == ("direct", "maas")
    assert sorted(p["zone"] for p in plan["placements"]) == ["az1", "az2", "az3"]
    assert {p["vm_host"] for p in plan["placements"]} == set(direct.hosts)
    assert planned.writes == []
    made = playbook.run(vm_task(hostname="cp-2"))
    assert made.ok, made.result.get("msg")
    on = made.result["machine"]["vm_host"]["name"]
    replanned = playbook.run(lookup_task(direct, ["cp-1", "cp-2", "cp-3"])).result["ansible_facts"]["plan"]
    kept = replanned["placements"][1]
    assert (kept["existing"], kept["vm_host"], kept["system_id"]) == (True, on, made.result["machine"]["system_id"])
    assert sorted(p["zone"] for p in replanned["placements"]) == ["az1", "az2", "az3"]


def test_lookup_keeps_an_instance_an_interrupted_run_did_not_register(direct, playbook, vm_task):
    made = playbook.run(vm_task(hostname="cp-1"))
    assert made.ok, made.result.get("msg")
    on, system_id = made.result["machine"]["vm_host"]["name"], made.result["machine"]["system_id"]
    MaasClient(direct.sim.url, direct.sim.api_key).delete_machine(system_id)  # the instance stays on LXD
    plan = playbook.run(lookup_task(direct, ["cp-1", "cp-2"])).result["ansible_facts"]["plan"]
    kept = plan["placements"][0]
    assert (kept["existing"], kept["vm_host"], kept["system_id"]) == (True, on, None)
    assert "did not register in MAAS" in kept["reason"]
    assert plan["placements"][1]["vm_host"] != on
