"""maas_lxd_vm in direct mode: the LXD instance made on a real daemon, registered in MAAS 4.0 (maas-sim), commissioned.

Every test runs ansible-playbook against maas-sim 4.0 whose LXD-host machines are real VM-capable LXD daemons
(``directsite.py``); MAAS writes come from maas-sim's request log, LXD writes from the daemons' own debug logs.
"""

from __future__ import annotations

from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import sim_ips, sim_machines, sim_objects


def as_done(actions):
    """Check mode's actions ("would create ...") as the real run words them."""
    return [action[len("would "):] if action.startswith("would ") else action for action in actions]


def test_create_deploy_then_rerun_writes_nothing(direct, playbook, vm_task):
    first = playbook.run(vm_task(state="deployed", interfaces=[{"ip": "10.10.0.101"}]))
    assert first.ok, first.result.get("msg")
    result = first.result
    machine = result["machine"]
    assert (result["changed"], result["created"], machine["status"]) == (True, True, "Deployed")
    host = machine["vm_host"]["name"]
    assert result["provider_id"] == "maas-lxd:///%s/%s" % (machine["zone"], machine["system_id"])
    assert (machine["cores"], machine["memory"], [d["size"] for d in machine["disks"]]) == (2, 4096, [20 * 1024 ** 3])
    assert machine["ip_addresses"] == ["10.10.0.101"]
    assert {"lxdcp-managed", "lxdcp-cluster-prod"} <= set(machine["tags"])
    # One instance, on the chosen host, with MAAS's definition, our marks and the MAC MAAS knows.
    assert {name: names for name, names in direct.instances().items() if names} == {host: [("default", "cp-1")]}
    instance = direct.instance(host, "cp-1")
    config, devices = instance["config"], instance["devices"]
    assert instance["type"] == "virtual-machine"
    assert (config["limits.cpu"], config["limits.memory"], config["security.secureboot"]) == ("2", str(4096 * 1024 ** 2), "false")
    assert (config["user.lxdcp.managed"], config["user.lxdcp.cluster"], config["user.lxdcp.hostname"]) == ("true", "prod", "cp-1")
    nic = next(d for d in devices.values() if d["type"] == "nic")
    assert nic["hwaddr"] == machine["interfaces"][0]["mac_address"]
    assert nic["parent"] == direct.hosts[host].bridge and nic["boot.priority"] == "1"
    assert devices["root"]["boot.priority"] == "0"
    # MAAS's certificate of the machine is trusted on that host only.
    trusted = direct.trusted()
    assert trusted[host] == ["maas-%s" % machine["system_id"]] and not any(v for k, v in trusted.items() if k != host)

    mark = direct.mark()
    second = playbook.run(vm_task(state="deployed", interfaces=[{"ip": "10.10.0.101"}]))
    assert second.ok and second.result["changed"] is False, second.result.get("msg")
    assert second.writes == [], second.write_summary()
    assert direct.lxd_writes(mark) == []
    assert second.result["machine"]["vm_host"]["name"] == host


def test_check_mode_writes_nothing_and_predicts_the_run(direct, playbook, vm_task):
    mark = direct.mark()
    checked = playbook.run(vm_task(state="deployed"), check=True, diff=True)
    assert checked.ok and checked.result["changed"] is True, checked.result.get("msg")
    assert checked.writes == [] and direct.lxd_writes(mark) == []
    assert sim_machines(direct.sim, "cp-1") == [] and not any(direct.instances().values())
    predicted = checked.result["placement"]["placements"][0]["host"]
    assert checked.result["diff"]["after"]["vm_host"] == predicted

    real = playbook.run(vm_task(state="deployed"), diff=True)
    assert real.ok, real.result.get("msg")
    assert real.result["actions"] == as_done(checked.result["actions"])
    assert real.result["machine"]["vm_host"]["name"] == predicted
    after = dict(real.result["diff"]["after"])
    after.pop("ip_addresses"), checked.result["diff"]["after"].pop("ip_addresses")  # MAAS's own, given at deployment
    assert checked.result["diff"] == dict(real.result["diff"], after=after)


def test_absent_leaves_no_instance_machine_address_or_certificate(direct, playbook, vm_task):
    made = playbook.run(vm_task(state="deployed", interfaces=[{"ip": "10.10.0.102"}]))
    assert made.ok, made.result.get("msg")
    checked = playbook.run(vm_task(state="absent"), check=True)
    assert checked.ok and checked.result["changed"] is True and checked.writes == []
    gone = playbook.run(vm_task(state="absent"))
    assert gone.ok, gone.result.get("msg")
    assert gone.result["changed"] is True and gone.result["capacity_restored"] is True
    assert gone.result["actions"] == as_done(checked.result["actions"])
    assert sim_machines(direct.sim, "cp-1") == []
    assert not any(direct.instances().values())
    assert not any(direct.trusted().values())
    assert "lxdcp-cluster-prod" not in [tag["name"] for tag in sim_objects(direct.sim, "tag")]
    assert sim_ips(direct.sim, "10.10.0.102") == []
    mark = direct.mark()
    again = playbook.run(vm_task(state="absent"))
    assert again.ok and again.result["changed"] is False
    assert again.writes == [] and direct.lxd_writes(mark) == []


def test_three_vms_spread_over_three_zones(direct, playbook, vm_task):
    tasks = [vm_task(hostname="cp-%d" % i) for i in (1, 2, 3)]
    run = playbook.run(tasks)
    assert run.ok, [r.get("msg") for r in run.results]
    zones = sorted(r["machine"]["zone"] for r in run.results)
    assert zones == ["az1", "az2", "az3"]
    assert sorted(len(names) for names in direct.instances().values()) == [1, 1, 1]
