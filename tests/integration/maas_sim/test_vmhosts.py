"""VM hosts: read, update, tags, parameters, compose with capacity and over-commit, delete."""

from __future__ import annotations

import pytest

GB = 1000**3


def host(api, name):
    return next(h for h in api.ok("GET", "vm-hosts/") if h["name"] == name)


def test_list_and_read_shapes(api):
    hosts = api.ok("GET", "vm-hosts/")
    assert [h["name"] for h in hosts] == ["lxd-az1-a", "lxd-az1-b", "lxd-az2-a", "lxd-az2-b", "lxd-az3-a", "lxd-az3-b"]
    first = hosts[0]
    assert set(first) == {"id", "name", "tags", "type", "architectures", "capabilities", "total", "used", "available", "zone",
                          "cpu_over_commit_ratio", "memory_over_commit_ratio", "storage_pools", "pool", "host", "default_macvlan_mode",
                          "version", "resource_uri"}
    assert first["type"] == "lxd" and first["resource_uri"] == f"/MAAS/api/2.0/vm-hosts/{first['id']}/"
    assert first["zone"]["name"] == "az1" and first["pool"]["name"] == "default"
    assert first["capabilities"] == ["composable", "dynamic_local_storage", "over_commit", "storage_pools"]
    assert first["tags"] == ["ssd", "pod-console-logging"]
    assert first["total"] == {"cores": 32, "memory": 131072, "local_storage": 1000 * GB}
    assert first["used"] == {"cores": 8, "memory": 32768, "local_storage": 200 * GB}
    assert first["available"] == {"cores": 24, "memory": 98304, "local_storage": 800 * GB}
    assert first["cpu_over_commit_ratio"] == 4.0 and first["memory_over_commit_ratio"] == 1.0
    assert first["storage_pools"] == [{"id": "default", "name": "default", "type": "zfs", "path": "/var/snap/lxd/common/lxd/storage-pools/default",
                                       "total": 1000 * GB, "used": 200 * GB, "available": 800 * GB, "default": True}]
    backing = api.ok("GET", f"machines/{first['host']['system_id']}/")
    assert first["host"] == {"system_id": backing["system_id"], "__incomplete__": True}
    assert backing["hostname"] == "lxd-az1-a" and backing["status_name"] == "Deployed"
    assert api.ok("GET", f"vm-hosts/{first['id']}/") == first
    legacy = host(api, "lxd-az2-a")
    assert legacy["used"]["cores"] == 8 and legacy["used"]["memory"] == 16384 + 8192  # unmanaged VM counted


def test_pods_alias_differs_only_in_resource_uri(api):
    via_vmhosts = api.ok("GET", "vm-hosts/1/")
    via_pods = api.ok("GET", "pods/1/")
    assert via_pods["resource_uri"] == "/MAAS/api/2.0/pods/1/"
    via_pods["resource_uri"] = via_vmhosts["resource_uri"]
    assert via_pods == via_vmhosts
    assert [p["resource_uri"] for p in api.ok("GET", "pods/")][:1] == ["/MAAS/api/2.0/pods/1/"]


def test_missing_host(api):
    response = api.get("vm-hosts/99/")
    assert response.status_code == 404 and response.text == "Not Found"
    assert api.post("vm-hosts/99/", op="refresh").text == "No Pod matches the given query."


def test_parameters_update_and_tags(api, user_api):
    params = api.ok("GET", "vm-hosts/1/", params={"op": "parameters"})
    assert params["power_address"] == "10.10.0.11:8443" and params["project"] == "default"
    assert user_api.get("vm-hosts/1/", params={"op": "parameters"}).text == "This method is reserved for admin users."
    updated = api.ok("PUT", "vm-hosts/1/", data={"cpu_over_commit_ratio": "2.5", "pool": "control-plane", "tags": "ssd,fast"})
    assert updated["cpu_over_commit_ratio"] == 2.5 and updated["pool"]["name"] == "control-plane"
    assert updated["tags"] == ["ssd", "fast", "pod-console-logging"]
    bad = api.put("vm-hosts/1/", data={"memory_over_commit_ratio": "11", "zone": "nowhere", "type": "virsh"})
    assert bad.status_code == 400
    assert bad.json() == {
        "type": ["Cannot change the type of a pod. Delete and re-create the pod with a different type."],
        "zone": ["Select a valid choice. That choice is not one of the available choices."],
        "memory_over_commit_ratio": ["Ensure this value is less than or equal to 10."],
    }
    assert api.ok("POST", "vm-hosts/1/", params={"op": "add_tag"}, data={"tag": "k8s"})["tags"][-1] == "k8s"
    assert api.post("vm-hosts/1/", params={"op": "add_tag"}, data={"tag": "a,b"}).text == 'Tag may not contain a ",".'
    assert api.post("vm-hosts/1/", params={"op": "add_tag"}).text == "No provided tag!"
    assert "k8s" not in api.ok("POST", "vm-hosts/1/", params={"op": "remove_tag"}, data={"tag": "k8s"})["tags"]
    assert api.ok("POST", "vm-hosts/1/", params={"op": "refresh"})["name"] == "lxd-az1-a"


def test_compose_defaults_capacity_and_life_cycle(api, maas_sim):
    before = host(api, "lxd-az1-b")
    composed = api.ok("POST", f"vm-hosts/{before['id']}/", params={"op": "compose"},
                      data={"cores": "4", "memory": "16384", "storage": "root:40(default)", "hostname": "cp-1"})
    assert set(composed) == {"system_id", "resource_uri"}
    assert composed["resource_uri"] == f"/MAAS/api/2.0/machines/{composed['system_id']}/"
    after = host(api, "lxd-az1-b")
    assert after["used"]["cores"] == before["used"]["cores"] + 4
    assert after["used"]["memory"] == before["used"]["memory"] + 16384
    assert after["storage_pools"][0]["used"] == before["storage_pools"][0]["used"] + 40 * GB
    machine = api.ok("GET", composed["resource_uri"].split("/api/2.0/", 1)[1])
    assert machine["hostname"] == "cp-1" and machine["fqdn"] == "cp-1.maas"
    assert machine["status_name"] in ("Commissioning", "Ready")
    assert machine["pod"] == {"id": before["id"], "name": "lxd-az1-b", "resource_uri": f"/MAAS/api/2.0/pods/{before['id']}/"}
    assert machine["parent"]["system_id"] == before["host"]["system_id"] and machine["parent"]["__incomplete__"] is True
    assert machine["power_type"] == "lxd" and machine["virtualmachine_id"] is not None
    assert machine["cpu_count"] == 4 and machine["memory"] == 16384 and machine["storage"] == 40000.0
    assert machine["blockdevice_set"][0]["size"] == 40 * GB and machine["blockdevice_set"][0]["storage_pool"] == "default"
    assert "pod-console-logging" in machine["tag_names"]
    assert machine["zone"]["name"] == "default"  # compose places VMs in the default zone unless zone= is given
    assert machine["pool"]["name"] == "control-plane"  # ... and in the VM host's pool
    ready = api.wait_status(composed["system_id"], "Ready")
    assert ready["interface_set"][0]["links"][0]["mode"] == "auto"
    assert "ip_address" not in ready["interface_set"][0]["links"][0]
    # Deleting the machine decomposes the VM and returns the capacity.
    assert api.delete(f"machines/{composed['system_id']}/").status_code == 204
    assert host(api, "lxd-az1-b")["used"] == before["used"]
    assert maas_sim.writes_since(0)


def test_compose_ids_zone_pool_domain_and_skip_commissioning(api):
    zones = {z["name"]: z["id"] for z in api.ok("GET", "zones/")}
    pools = {p["name"]: p["id"] for p in api.ok("GET", "resourcepools/")}
    composed = api.ok("POST", "vm-hosts/3/", params={"op": "compose"},
                      data={"zone": str(zones["az2"]), "pool": str(pools["default"]), "domain": "0", "skip_commissioning": "true"})
    machine = api.ok("GET", f"machines/{composed['system_id']}/")
    assert machine["status_name"] == "Ready" and machine["zone"]["name"] == "az2" and machine["pool"]["name"] == "default"
    assert machine["cpu_count"] == 1 and machine["memory"] == 2048 and machine["storage"] == 8000.0
    bad = api.post("vm-hosts/3/", params={"op": "compose"}, data={"zone": "az2"})
    assert bad.json() == {"zone": ["Select a valid choice. That choice is not one of the available choices."]}


@pytest.mark.parametrize("data,errors", [
    ({"cores": "64"}, {"cores": ["Ensure this value is less than or equal to 16."]}),
    ({"cores": "0"}, {"cores": ["Ensure this value is greater than or equal to 1."]}),
    ({"memory": "512"}, {"memory": ["Ensure this value is greater than or equal to 1024."]}),
    ({"memory": "70000"}, {"memory": ["Ensure this value is less than or equal to 65536."]}),
    ({"cores": "two"}, {"cores": ["Enter a whole number."]}),
    ({"storage": "root:x"}, {"storage": ['Malformed storage constraint, "root:x".']}),
    ({"hostname": "db-01"}, {"hostname": ['Node with hostname "db-01" already exists']}),
    ({"architecture": "s390x/generic"}, {"architecture": ["Select a valid choice. s390x/generic is not one of the available choices."]}),
])
def test_compose_form_errors(api, data, errors):
    response = api.post("vm-hosts/2/", params={"op": "compose"}, data=data)
    assert response.status_code == 400
    assert response.json() == errors


def test_compose_over_commit_is_503(api):
    # lxd-az1-b: 16 cores, ratio 1.0, 64 GiB, ratio 1.0, nothing used yet.
    api.ok("POST", "vm-hosts/2/", params={"op": "compose"}, data={"cores": "12", "memory": "49152", "skip_commissioning": "1"})
    response = api.post("vm-hosts/2/", params={"op": "compose"}, data={"cores": "8", "memory": "4096"})
    assert response.status_code == 503
    assert response.text == ("Unable to compose KVM instance in 'lxd-az1-b'. "
                             "CPU overcommit ratio is 1.0 and there are 4 available resources; 8 requested.")
    both = api.post("vm-hosts/2/", params={"op": "compose"}, data={"cores": "8", "memory": "32768"})
    assert both.text == ("Unable to compose KVM instance in 'lxd-az1-b'. CPU overcommit ratio is 1.0 and there are 4 available resources; "
                         "8 requested.Memory overcommit ratio is 1.0 and there are 16384 available resources; 32768 requested.")
    # lxd-az1-a over-commits CPU 4x: 16 cores more than it has still fit.
    api.ok("POST", "vm-hosts/1/", params={"op": "compose"}, data={"cores": "16", "memory": "4096", "skip_commissioning": "1"})
    api.ok("POST", "vm-hosts/1/", params={"op": "compose"}, data={"cores": "16", "memory": "4096", "skip_commissioning": "1"})
    assert host(api, "lxd-az1-a")["available"]["cores"] == -8


def test_compose_storage_per_pool(api):
    response = api.post("vm-hosts/2/", params={"op": "compose"}, data={"storage": "root:600"})
    assert response.status_code == 500
    assert response.text == "Not enough space in default storage pool: default"
    api.ok("POST", "vm-hosts/2/", params={"op": "compose"}, data={"storage": "root:300,data:150", "skip_commissioning": "1"})
    again = api.post("vm-hosts/2/", params={"op": "compose"}, data={"storage": "root:100"})
    assert again.status_code == 500 and again.text == "Not enough space in default storage pool: default"
    assert host(api, "lxd-az1-b")["storage_pools"][0]["available"] == 50 * GB


def test_compose_with_interfaces_and_ip(api):
    composed = api.ok("POST", "vm-hosts/1/", params={"op": "compose"},
                      data={"interfaces": "eth0:subnet=10.10.0.0/24,ip=10.10.0.160", "skip_commissioning": "1", "hostname": "with-ip"})
    machine = api.ok("GET", f"machines/{composed['system_id']}/")
    link = machine["interface_set"][0]["links"][0]
    assert (link["mode"], link["ip_address"], link["subnet"]["cidr"]) == ("auto", "10.10.0.160", "10.10.0.0/24")
    assert machine["ip_addresses"] == ["10.10.0.160"]
    in_use = api.post("vm-hosts/1/", params={"op": "compose"}, data={"interfaces": "eth0:ip=10.10.0.160"})
    assert in_use.status_code == 404 and in_use.text == "The IP address 10.10.0.160 is already in use."
    reserved = api.post("vm-hosts/1/", params={"op": "compose"}, data={"interfaces": "eth0:ip=10.10.0.20"})
    assert reserved.status_code == 404 and reserved.text == "10.10.0.20 is within the reserved range from 10.10.0.2 to 10.10.0.29"
    nomatch = api.post("vm-hosts/1/", params={"op": "compose"}, data={"interfaces": "eth0:subnet=192.168.0.0/24"})
    assert nomatch.status_code == 400 and nomatch.text == "This pod does not match the specified networks."
    named = api.ok("POST", "vm-hosts/1/", params={"op": "compose"}, data={"interfaces": "1:subnet_cidr=10.10.0.0/24", "skip_commissioning": "1"})
    assert api.ok("GET", f"machines/{named['system_id']}/")["interface_set"][0]["name"] == "eth1"


def test_delete_vm_host_removes_its_machines(api):
    composed = api.ok("POST", "vm-hosts/6/", params={"op": "compose"}, data={"skip_commissioning": "1"})
    assert api.delete("vm-hosts/6/", params={"decompose": "true"}).status_code == 204
    assert api.get(f"machines/{composed['system_id']}/").status_code == 404
    assert "lxd-az3-b" not in [h["name"] for h in api.ok("GET", "vm-hosts/")]
    assert api.ok("GET", "machines/", params={"hostname": "lxd-az3-b"})[0]["status_name"] == "Deployed"


def test_non_admin_cannot_compose(user_api):
    assert user_api.post("vm-hosts/1/", params={"op": "compose"}).text == "This method is reserved for admin users."
    assert len(user_api.ok("GET", "vm-hosts/")) == 6


def test_create_vm_host_from_a_known_machine(api):
    created = api.ok("POST", "vm-hosts/", data={"type": "lxd", "power_address": "10.10.0.52:8443", "name": "nested", "zone": "az2"})
    assert created["host"]["system_id"] == api.ok("GET", "machines/", params={"hostname": "worker-01"})[0]["system_id"]
    assert created["total"]["cores"] == 4 and created["zone"]["name"] == "az2"
    duplicate = api.post("vm-hosts/", data={"type": "lxd", "power_address": "10.10.0.52:8443"})
    assert duplicate.status_code == 400 and duplicate.text == "Pod nested with type and parameters already exist."
    assert api.post("vm-hosts/", data={"power_address": "x"}).json() == {"type": ["This field is required."]}
