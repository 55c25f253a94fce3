"""LxdClient against real LXD daemons that hold virtual machines (``lxdvm.py``): MAAS's VM definition, and bad input.

Everything up to the boot is real: LXD validates and stores the definition, creates the VM's root disk
in its storage pool, reports state and resources, deletes. Booting is not possible on these machines
(see ``lxdvm.py``); ``test_start_is_refused_here_with_lxd_s_reason`` records what LXD says.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from ansible_collections.lxdcp.maas.plugins.module_utils import ownership
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd import definitions, errors
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.api import LxdClient
from lxdprocs import free_port, make_certificate

GIB = 1024 ** 3
MARKS = ownership.instance_marks("prod", "cp-1")


def client_for(cluster, daemon, **kwargs):
    settings = cluster.client_settings(daemon)
    settings.update(kwargs)
    return LxdClient(**settings)


def vm(daemon, name="cp-1", **overrides):
    settings = dict(name=name, cores=2, memory_mib=1024, disks=[10 * GIB], nics=[daemon.bridge],
                    storage_pool="default", config_keys=MARKS)
    settings.update(overrides)
    return definitions.vm_definition(**settings)


def test_server_resources_and_storage(lxd_vms):
    daemon = lxd_vms.daemons[0]
    client = client_for(lxd_vms, daemon)
    client.require_trusted()
    client.require_extensions()  # what MAAS requires of an LXD VM host
    client.require_virtual_machines()
    assert client.server_version() == daemon.query("/1.0")["environment"]["server_version"]
    resources = daemon.resources()
    assert client.capacity() == {"cores": resources["cpu"]["total"], "memory": resources["memory"]["total"]}
    assert [pool["name"] for pool in client.list_storage_pools()] == ["default"]
    space = daemon.query("/1.0/storage-pools/default/resources")["space"]
    assert 0 < client.storage_pool_free("default") <= space["total"]
    assert client.bridge_exists(daemon.bridge) and not client.bridge_exists("lo")
    assert client.project_exists() and client.vm_profiles() == []
    assert client.requests_sent == 8


def test_create_a_vm_with_maas_s_definition_then_delete_it(lxd_vms):
    daemon = lxd_vms.daemons[0]
    daemon.lxc("profile", "create", "maas")
    client = client_for(lxd_vms, daemon)
    profiles = client.vm_profiles()
    assert profiles == ["maas"]
    sent = vm(daemon, nics=[daemon.bridge, {"parent": daemon.bridge, "hwaddr": "00:16:3e:0a:0b:0c"}],
              profiles=profiles, architecture="x86_64")
    before = client.requests_sent
    started = time.monotonic()
    created = client.create_instance(sent)
    took = time.monotonic() - started
    assert client.requests_sent - before == 4  # bridge check, POST, operation wait, read back
    assert took < 30

    # As LXD stores it: type, limits, marks, and the devices exactly as sent.
    assert created["type"] == "virtual-machine" and created["profiles"] == ["maas"]
    assert created["architecture"] == "x86_64"
    config = created["config"]
    for key, value in sent["config"].items():
        assert config[key] == value
    assert config["limits.memory"] == str(1024 * 1024 ** 2) and config["limits.cpu"] == "2"
    assert created["devices"] == sent["devices"]
    assert created["devices"]["root"] == {"type": "disk", "path": "/", "pool": "default", "size": str(10 * GIB),
                                          "boot.priority": "0"}
    assert ownership.instance_is_owned(created, "prod")
    macs = definitions.nic_macs(created)
    assert macs["eth1"] == "00:16:3e:0a:0b:0c" and macs["eth0"].startswith("00:16:3e:")  # LXD made eth0's

    state = client.instance_state("cp-1")
    assert state["status"] == "Stopped" and state["status_code"] == 102
    listed = client.list_instances()
    assert [(i["name"], i["type"], i["status"]) for i in listed] == [("cp-1", "virtual-machine", "Stopped")]
    assert daemon.instances() == [("default", "cp-1")]
    assert os.path.exists(os.path.join(daemon.lxd_dir, "storage-pools", "default", "virtual-machines", "cp-1", "root.img"))

    client.update_instance_config("cp-1", {ownership.LXD_CLUSTER_KEY: "prod2"})
    assert client.get_instance("cp-1")["config"][ownership.LXD_CLUSTER_KEY] == "prod2"
    assert client.get_instance("cp-1")["config"]["limits.cpu"] == "2"  # PATCH keeps the other keys

    capacity = client.capacity()
    assert client.delete_instance("cp-1") is True
    assert client.list_instances() == [] and daemon.instances() == []
    assert client.find_instance("cp-1") is None
    assert client.capacity() == capacity  # the host's, not an allocation
    assert not os.path.exists(os.path.join(daemon.lxd_dir, "storage-pools", "default", "virtual-machines", "cp-1"))
    assert client.delete_instance("cp-1") is False


def test_a_vm_with_an_extra_disk_on_a_custom_block_volume(lxd_vms):
    daemon = lxd_vms.daemons[1]
    client = client_for(lxd_vms, daemon)
    volume = client.create_volume("default", "cp-2-disk1", 2 * GIB, config=ownership.instance_marks("prod", "cp-2"))
    assert volume["content_type"] == "block" and volume["config"]["size"] == str(2 * GIB)
    created = client.create_instance(vm(daemon, name="cp-2", disks=[10 * GIB, {"volume": "cp-2-disk1"}]))
    assert created["devices"]["disk1"] == {"type": "disk", "pool": "default", "source": "cp-2-disk1"}
    client.delete_instance("cp-2")
    assert client.delete_volume("default", "cp-2-disk1") is True
    assert daemon.query("/1.0/storage-pools/default/volumes/custom") == []


def test_start_is_refused_here_with_lxd_s_reason(lxd_vms):
    daemon = lxd_vms.daemons[0]
    client = client_for(lxd_vms, daemon)
    client.create_instance(vm(daemon))
    try:
        client.change_state("cp-1", "start", wait_timeout=120)
    except errors.LxdOperationFailed as exc:
        # No vhost_vsock in the kernel: qemu cannot start. The message names the action and carries LXD's reason.
        assert "failed the start of instance cp-1 (operation " in str(exc) and exc.lxd_error
    else:  # a machine that can boot VMs: stop it again
        client.stop_instance("cp-1")
    assert client.instance_state("cp-1")["status"] == "Stopped"
    client.stop_instance("cp-1")  # stopping a stopped VM is fine
    assert client.delete_instance("cp-1") is True


# -- bad input: a clear message and nothing left behind ----------------------------------------


def test_unreachable_endpoint(lxd_vms):
    settings = lxd_vms.client_settings(lxd_vms.daemons[0])
    settings["url"] = "https://127.0.0.1:%d" % free_port()
    client = LxdClient(retries=1, backoff_base=0.01, **settings)
    with pytest.raises(errors.LxdRetriesExhausted) as info:
        client.server()
    text = str(info.value)
    assert "Cannot reach LXD at %s for GET /1.0: " % settings["url"] in text and "Connection refused" in text
    assert isinstance(info.value.last_error, errors.LxdConnectionError) and info.value.attempts == 2


def test_client_certificate_not_trusted(lxd_vms, tmp_path):
    daemon = lxd_vms.daemons[0]
    cert, key = make_certificate(str(tmp_path), "stranger")
    client = client_for(lxd_vms, daemon, client_cert=cert, client_key=key)
    assert client.server()["auth"] == "untrusted"
    with pytest.raises(errors.LxdUntrusted) as info:
        client.require_trusted()
    assert "lxc config trust add %s" % cert in str(info.value)
    with pytest.raises(errors.LxdUntrusted) as info:
        client.create_instance(vm(daemon), check_bridges=False)
    text = str(info.value)
    assert "refused POST /1.0/instances?project=default: 403" in text and "not authorized" in text
    assert "lxc config trust add %s" % cert in text
    with open(key, encoding="ascii") as handle:
        assert handle.read().split("-----")[2].strip().splitlines()[0] not in text
    assert daemon.instances() == []


def test_server_certificate_mismatch(lxd_vms):
    first, second = lxd_vms.daemons[:2]
    client = client_for(lxd_vms, first, server_cert=second.server_cert)
    with pytest.raises(errors.LxdTLSError) as info:
        client.create_instance(vm(first))
    text = str(info.value)
    assert "LXD at %s presented a certificate that is not the pinned one (server_cert %s" % (
        first.url, second.server_cert) in text
    assert "Nothing was sent" in text and client.requests_sent == 1
    assert first.instances() == []


def test_project_missing(lxd_vms):
    daemon = lxd_vms.daemons[0]
    client = client_for(lxd_vms, daemon, project="nope")
    assert not client.project_exists()
    with pytest.raises(errors.LxdNotFound) as info:
        client.create_instance(vm(daemon))
    text = str(info.value)
    assert "refused POST /1.0/instances?project=nope: 404" in text and "Project not found" in text
    assert "lxc project create" in text
    assert daemon.instances() == []


def test_storage_pool_missing(lxd_vms):
    daemon = lxd_vms.daemons[0]
    client = client_for(lxd_vms, daemon)
    with pytest.raises(errors.LxdNotFound) as info:
        client.create_instance(vm(daemon, storage_pool="nope"))
    text = str(info.value)
    assert "failed the creation of instance cp-1 in project default (operation " in text
    assert "Storage pool not found" in text and "lxc storage list" in text
    assert daemon.instances() == []
    with pytest.raises(errors.LxdNotFound, match="Storage pool not found"):
        client.storage_pool_free("nope")


def test_bridge_missing(lxd_vms):
    daemon = lxd_vms.daemons[0]
    client = client_for(lxd_vms, daemon)
    with pytest.raises(errors.LxdNotFound) as info:
        client.create_instance(vm(daemon, nics=["nobr0"]))
    assert "has no network interface 'nobr0' to attach a bridged NIC to" in str(info.value)
    assert daemon.instances() == []
    # LXD itself would have accepted it (the parent is checked only when the VM starts): why the client checks.
    accepted = client.create_instance(vm(daemon, nics=["nobr0"]), check_bridges=False)
    assert accepted["devices"]["eth0"]["parent"] == "nobr0"
    client.delete_instance("cp-1")


def test_profile_missing(lxd_vms):
    daemon = lxd_vms.daemons[0]
    client = client_for(lxd_vms, daemon)
    with pytest.raises(errors.LxdNotFound, match="lxc profile create"):
        client.create_instance(vm(daemon, profiles=["maas"]))
    assert daemon.instances() == []


def test_a_foreign_instance_of_that_name_is_left_alone(lxd_vms):
    daemon = lxd_vms.daemons[0]
    daemon.lxc("init", "--empty", "--vm", "cp-1", "-c", "limits.cpu=1")
    before = daemon.query("/1.0/instances/cp-1")
    client = client_for(lxd_vms, daemon)
    with pytest.raises(errors.LxdConflict) as info:
        client.create_instance(vm(daemon))
    error = info.value
    assert error.foreign is True and error.instance["name"] == "cp-1"
    assert "An instance named cp-1 already exists in project default on LXD at %s" % daemon.url in str(error)
    assert "was not created by lxdcp.maas (no user.lxdcp.managed mark), so it is left alone" in str(error)
    after = daemon.query("/1.0/instances/cp-1")
    assert after["config"] == before["config"] and after["devices"] == before["devices"]
    assert not ownership.instance_is_owned(after)
    assert daemon.instances() == [("default", "cp-1")]


def test_lxc_sees_what_the_client_created(lxd_vms):
    daemon = lxd_vms.daemons[0]
    client_for(lxd_vms, daemon).create_instance(vm(daemon))
    listed = subprocess.run([daemon.lxc_bin, "list", "--format", "csv", "-c", "nt"], env=daemon.env, capture_output=True,
                            text=True, check=True).stdout
    assert listed.strip() == "cp-1,VIRTUAL-MACHINE"
