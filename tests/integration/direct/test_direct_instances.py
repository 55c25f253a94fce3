"""What direct mode owns on LXD: extra disks (marked custom volumes), NICs per interface, and the instance of a VM MAAS
composed before 4.0 (no marks; its machine is the task's) - on real VM-capable LXD daemons and maas-sim 4.0."""

from __future__ import annotations

import os

from ansible_collections.lxdcp.maas.plugins.module_utils import ownership
from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import sim_machines

GIB = 1024 ** 3


def volumes(daemon):
    """``{name: config}`` of the custom volumes of a daemon's default pool."""
    return {v["name"]: v.get("config") or {} for v in daemon.query("/1.0/storage-pools/default/volumes/custom?recursion=1") or []}


def test_an_extra_disk_is_a_marked_volume_deleted_with_the_vm(direct, playbook, vm_task):
    made = playbook.run(vm_task(disks=[{"size": "20G"}, {"size": "10G"}]))
    assert made.ok, made.result.get("msg")
    host = made.result["machine"]["vm_host"]["name"]
    daemon = direct.hosts[host]
    assert [d["size"] for d in made.result["machine"]["disks"]] == [20 * GIB, 10 * GIB]
    config = volumes(daemon)["cp-1-disk1"]
    assert (config["size"], config["user.lxdcp.cluster"], config["user.lxdcp.hostname"]) == (str(10 * GIB), "prod", "cp-1")
    again = playbook.run(vm_task(disks=[{"size": "20G"}, {"size": "10G"}]))
    assert again.ok and again.result["changed"] is False and again.writes == []
    gone = playbook.run(vm_task(state="absent"))
    assert gone.ok, gone.result.get("msg")
    assert volumes(daemon) == {} and not any(direct.instances().values())


def test_a_volume_an_interrupted_attempt_left_is_replaced_a_foreign_one_refused(direct, playbook, vm_task):
    for daemon in direct.hosts.values():  # a leftover of ours on every host: whichever is chosen, it is replaced
        daemon.lxc("storage", "volume", "create", "default", "cp-1-disk1", "--type=block", "size=1GiB",
                   *["%s=%s" % item for item in ownership.instance_marks("prod", "cp-1").items()])
    made = playbook.run(vm_task(disks=[{"size": "20G"}, {"size": "10G"}]))
    assert made.ok, made.result.get("msg")
    host = made.result["machine"]["vm_host"]["name"]
    assert volumes(direct.hosts[host])["cp-1-disk1"]["size"] == str(10 * GIB)
    assert playbook.run(vm_task(state="absent")).ok

    for daemon in direct.hosts.values():
        daemon.lxc("storage", "volume", "delete", "default", "cp-1-disk1", check=False)
        daemon.lxc("storage", "volume", "create", "default", "cp-1-disk1", "--type=block", "size=1GiB")  # not ours
    mark = direct.mark()
    refused = playbook.run(vm_task(disks=[{"size": "20G"}, {"size": "10G"}]))
    assert not refused.ok
    assert "already has a storage volume cp-1-disk1 in pool default that lxdcp.maas did not make" in refused.result["msg"]
    assert not any(direct.instances().values()) and sim_machines(direct.sim, "cp-1") == []
    assert direct.lxd_writes(mark) == [] and refused.writes == []
    assert all(volumes(daemon)["cp-1-disk1"].get("size") == "1GiB" for daemon in direct.hosts.values())


def test_one_nic_per_interface_each_with_its_static_address(direct, playbook, vm_task):
    interfaces = [{"name": "eth0", "ip": "10.10.0.131"}, {"name": "eth1", "ip": "10.10.0.132"}]
    made = playbook.run(vm_task(interfaces=interfaces))
    assert made.ok, made.result.get("msg")
    machine = made.result["machine"]
    nics = {i["name"]: i for i in machine["interfaces"]}
    assert sorted(machine["ip_addresses"]) == ["10.10.0.131", "10.10.0.132"]
    devices = direct.instance(machine["vm_host"]["name"], "cp-1")["devices"]
    assert {name: d["hwaddr"] for name, d in devices.items() if d["type"] == "nic"} == \
        {name: nics[name]["mac_address"] for name in ("eth0", "eth1")}
    again = playbook.run(vm_task(interfaces=interfaces))
    assert again.ok and again.result["changed"] is False and again.writes == []


def test_a_vm_maas_composed_before_40_is_claimed_then_removed(direct, playbook, vm_task, maas, tmp_path):
    """After an upgrade to 4.0 a VM MAAS composed for the collection is an lxd-powered machine with the ownership tags
    whose instance has no marks: the next run marks the instance (check mode predicts it), teardown deletes it."""
    host, daemon = "lxd-az2-a", direct.hosts["lxd-az2-a"]
    mac = "00:16:3e:%s" % os.urandom(3).hex(":")
    daemon.lxc("init", "--empty", "--vm", "cp-1", "-c", "limits.cpu=2", "-c", "limits.memory=4GiB",
               "-d", "root,size=20GiB")
    daemon.lxc("config", "device", "add", "cp-1", "eth0", "nic", "nictype=bridged", "parent=" + daemon.bridge, "hwaddr=" + mac)
    machine = maas.create_machine({"hostname": "cp-1", "architecture": "amd64/generic", "mac_addresses": [mac],
                                   "power_type": "lxd", "power_parameters_power_address": daemon.url,
                                   "power_parameters_instance_name": "cp-1", "commission": "false", "zone": "az2"})
    system_id = machine["system_id"]
    maas.ensure_tags({"lxdcp-managed": "", "lxdcp-cluster-prod": ""})
    for tag in ("lxdcp-managed", "lxdcp-cluster-prod"):
        maas.tag_machines(tag, add=[system_id])

    mark = direct.mark()
    checked = playbook.run(vm_task(), check=True)
    assert checked.ok, checked.result.get("msg")
    assert "would mark LXD instance cp-1 on lxd-az2-a as cluster prod's (composed by MAAS before 4.0; its machine %s is this " \
           "task's)" % system_id in checked.result["actions"]
    assert checked.writes == [] and direct.lxd_writes(mark) == []

    claimed = playbook.run(vm_task())
    assert claimed.ok, claimed.result.get("msg")
    assert claimed.result["machine"]["system_id"] == system_id and claimed.result["machine"]["vm_host"]["name"] == host
    config = direct.instance(host, "cp-1")["config"]
    assert (config["user.lxdcp.managed"], config["user.lxdcp.cluster"]) == ("true", "prod")
    assert claimed.result["machine"]["status"] == "Ready"  # commissioned: it had never been here

    gone = playbook.run(vm_task(state="absent"))
    assert gone.ok, gone.result.get("msg")
    assert not any(direct.instances().values()) and sim_machines(direct.sim, "cp-1") == []
