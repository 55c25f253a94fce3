"""Machines: list filters, read, update, allocate, deploy, release, commission, power, broken/fixed, abort, delete."""

from __future__ import annotations

import time

import pytest


def names(machines):
    return sorted(m["hostname"] for m in machines)


def test_machine_object_fields(api):
    machine = api.ok("GET", "machines/", params={"hostname": "db-01"})[0]
    expected = {
        "system_id", "hostname", "description", "hardware_uuid", "domain", "fqdn", "owner", "owner_data", "locked", "cache_sets", "bcaches",
        "bios_boot_method", "boot_interface", "architecture", "min_hwe_kernel", "hwe_kernel", "cpu_count", "cpu_speed", "memory", "swap_size",
        "storage", "status", "osystem", "distro_series", "ephemeral_deploy", "error_description", "netboot", "power_type", "power_state",
        "tag_names", "address_ttl", "ip_addresses", "interface_set", "zone", "pool", "disable_ipv4", "boot_disk", "blockdevice_set",
        "physicalblockdevice_set", "virtualblockdevice_set", "volume_groups", "raids", "status_action", "status_message", "status_name",
        "node_type", "node_type_name", "special_filesystems", "parent", "pod", "default_gateways", "current_commissioning_result_id",
        "current_testing_result_id", "current_installation_result_id", "commissioning_status", "commissioning_status_name", "testing_status",
        "testing_status_name", "cpu_test_status", "cpu_test_status_name", "memory_test_status", "memory_test_status_name",
        "network_test_status", "network_test_status_name", "storage_test_status", "storage_test_status_name", "other_test_status",
        "other_test_status_name", "hardware_info", "interface_test_status", "interface_test_status_name", "numanode_set",
        "virtualmachine_id", "workload_annotations", "last_sync", "sync_interval", "next_sync", "enable_hw_sync", "enable_kernel_crash_dump",
        "resource_uri",
    }
    assert set(machine) == expected
    assert machine["status"] == 6 and machine["status_name"] == "Deployed" and machine["owner"] == "lxdcp"
    assert machine["fqdn"] == "db-01.maas" and machine["domain"]["name"] == "maas"
    assert machine["memory"] == 32768 and machine["storage"] == 200000.0 and machine["cpu_count"] == 8
    assert machine["tag_names"] == ["database", "ssd", "pod-console-logging"]
    assert machine["ip_addresses"] == ["10.10.0.50"]
    assert machine["default_gateways"] == {"ipv4": {"gateway_ip": "10.10.0.1", "link_id": None}, "ipv6": {"gateway_ip": None, "link_id": None}}
    assert machine["boot_interface"]["id"] == machine["interface_set"][0]["id"]
    assert machine["interface_set"][0]["resource_uri"] == f"/MAAS/api/2.0/nodes/{machine['system_id']}/interfaces/{machine['boot_interface']['id']}/"
    assert machine["node_type_name"] == "Machine" and machine["osystem"] == "ubuntu" and machine["distro_series"] == "jammy"
    assert api.ok("GET", f"machines/{machine['system_id']}/") == machine


def test_list_filters(api):
    everything = api.ok("GET", "machines/")
    assert len(everything) == 9
    assert names(api.ok("GET", "machines/", params={"zone": "az1"})) == ["db-01", "lxd-az1-a", "lxd-az1-b"]
    assert names(api.ok("GET", "machines/", params=[("hostname", "db-01"), ("hostname", "cache-01")])) == ["cache-01", "db-01"]
    assert names(api.ok("GET", "machines/", params={"pool": "control-plane"})) == ["lxd-az1-b", "lxd-az2-b", "lxd-az3-b"]
    assert names(api.ok("GET", "machines/", params={"tags": "ssd,database"})) == ["db-01"]
    assert names(api.ok("GET", "machines/", params={"pod": "lxd-az3-a"})) == ["cache-01"]
    assert len(api.ok("GET", "machines/", params={"pod_type": "lxd"})) == 3
    assert len(api.ok("GET", "machines/", params={"not_pod_type": "lxd"})) == 6
    assert len(api.ok("GET", "machines/", params={"status": "deployed"})) == 9
    assert api.ok("GET", "machines/", params={"not_status": "deployed"}) == []
    assert len(api.ok("GET", "machines/", params={"simple_status": "deployed", "owner": "lxdcp", "domain": "maas"})) == 9
    db = everything[6]
    assert [m["hostname"] for m in api.ok("GET", "machines/", params={"id": db["system_id"]})] == [db["hostname"]]
    mac = db["interface_set"][0]["mac_address"]
    assert [m["hostname"] for m in api.ok("GET", "machines/", params={"mac_address": mac})] == [db["hostname"]]
    assert names(api.ok("GET", "machines/", params={"not_in_zone": "az1", "cpu_count": "16"})) == [
        "cache-01", "lxd-az2-a", "lxd-az2-b", "lxd-az3-a", "lxd-az3-b"]
    assert names(api.ok("GET", "machines/", params={"mem": "60000", "pod_type": "lxd"})) == ["cache-01"]


@pytest.mark.parametrize("params,errors", [
    ({"frobnicate": "1"}, {"frobnicate": ["No such constraint."]}),
    ({"zone": "nowhere"}, {"zone": ["No such zone(s): nowhere."]}),
    ({"pool": "nowhere"}, {"pool": ["No such pool(s): nowhere."]}),
    ({"tags": "nope"}, {"tags": ["No such tag(s): 'nope'."]}),
    ({"status": "sleeping"}, {"status": ["Select a valid choice. sleeping is not one of the available choices."]}),
    ({"owner": "ghost"}, {"owner": ["No such owner: 'ghost'."]}),
    ({"cpu_count": "many"}, {"cpu_count": ["Invalid CPU count: number required."]}),
])
def test_list_filter_errors(api, params, errors):
    response = api.get("machines/", params=params)
    assert response.status_code == 400
    assert response.json() == errors


def test_non_admin_sees_unowned_and_own_machines(user_api, api):
    assert user_api.ok("GET", "machines/") == []
    ready = api.compose_ready()
    assert [m["system_id"] for m in user_api.ok("GET", "machines/")] == [ready["system_id"]]
    db = api.ok("GET", "machines/", params={"hostname": "db-01"})[0]
    assert user_api.get(f"machines/{db['system_id']}/").status_code == 403


def test_update_machine(api, user_api):
    ready = api.compose_ready()
    sid = ready["system_id"]
    updated = api.ok("PUT", f"machines/{sid}/", data={"hostname": "renamed", "zone": "az3", "pool": "default", "description": "hello"})
    assert (updated["hostname"], updated["zone"]["name"], updated["pool"]["name"], updated["description"]) == ("renamed", "az3", "default", "hello")
    assert api.put(f"machines/{sid}/", data={"zone": "nowhere"}).json() == {
        "zone": ["Select a valid choice. That choice is not one of the available choices."]}
    assert api.put(f"machines/{sid}/", data={"hostname": "bad_name"}).json() == {"hostname": ["Host label cannot contain underscore: 'bad_name'."]}
    assert user_api.put(f"machines/{sid}/", data={"description": "x"}).status_code == 403


def test_allocate_picks_cheapest_matching_ready_machine(api):
    small = api.compose_ready(2, cores="2", memory="4096")
    big = api.compose_ready(2, cores="4", memory="8192")
    chosen = api.ok("POST", "machines/", params={"op": "allocate"}, data={"cpu_count": "2", "agent_name": "k8s"})
    assert chosen["system_id"] == small["system_id"] and chosen["status_name"] == "Allocated" and chosen["owner"] == "lxdcp"
    assert chosen["constraints_by_type"] == {}
    dry = api.ok("POST", "machines/", params={"op": "allocate"}, data={"mem": "8000", "dry_run": "true"})
    assert dry["system_id"] == big["system_id"] and dry["status_name"] == "Ready"
    assert api.ok("GET", f"machines/{big['system_id']}/")["status_name"] == "Ready"
    listed = api.ok("GET", "machines/", params={"op": "list_allocated"})
    assert [m["system_id"] for m in listed] == [small["system_id"]]
    assert api.ok("GET", "machines/", params={"agent_name": "k8s"})[0]["system_id"] == small["system_id"]


def test_allocate_conflicts_and_errors(api, maas_sim):
    maas_sim.faults(vmhost_offline=["lxd-az1-a", "lxd-az1-b", "lxd-az2-a", "lxd-az2-b", "lxd-az3-a", "lxd-az3-b"])
    response = api.post("machines/", params={"op": "allocate"}, data={"zone": "az1", "cpu_count": "4"})
    assert response.status_code == 409
    assert response.text == ("No available machine matches constraints: [('zone', ['az1']), ('cpu_count', ['4'])] "
                             '(resolved to "cpu_count=4.0 zone=az1")')
    assert api.post("machines/", params={"op": "allocate"}).text == "No machine available."
    assert api.post("machines/", params={"op": "allocate"}, data={"system_id": "nope"}).text == "No machine with system ID nope available."
    assert api.post("machines/", params={"op": "allocate"}, data={"install_kvm": "1"}).json() == {"install_kvm": ["No such constraint."]}
    assert api.post("machines/", params={"op": "allocate"}, data={"tags": "ghost"}).json() == {"tags": ["No such tag(s): 'ghost'."]}
    assert api.post("machines/", params={"op": "allocate"}, data={"dry_run": "maybe"}).text == "Invalid dry_run: Value should be 'true' or 'false'"


def test_allocate_composes_dynamically_on_vm_hosts(api):
    allocated = api.ok("POST", "machines/", params={"op": "allocate"},
                       data={"zone": "az2", "cpu_count": "2", "mem": "4096", "storage": "root:30", "pool": "control-plane", "pod_type": "lxd"})
    # MAAS filters the VM hosts by zone, tags, pod and pod_type only: pool= does not steer the composition,
    # so the first az2 host (lxd-az2-a, pool "default") is used and the VM lands in its pool.
    assert allocated["status_name"] == "Allocated" and allocated["pod"]["name"] == "lxd-az2-a"
    assert allocated["pool"]["name"] == "default" and allocated["zone"]["name"] == "default"
    assert (allocated["cpu_count"], allocated["memory"], allocated["storage"]) == (2, 4096, 30000.0)
    assert allocated["constraints_by_type"]["storage"] == {"root": [allocated["boot_disk"]["id"]]}
    # Releasing a dynamically composed machine deletes it and decomposes the VM.
    api.ok("POST", f"machines/{allocated['system_id']}/", params={"op": "release"})
    deadline = time.monotonic() + 5
    while api.get(f"machines/{allocated['system_id']}/").status_code != 404 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.get(f"machines/{allocated['system_id']}/").status_code == 404
    assert api.ok("GET", "vm-hosts/3/")["used"]["cores"] == 8


def test_deploy_stores_user_data_and_auto_allocates(api, maas_sim):
    ready = api.compose_ready()
    sid = ready["system_id"]
    user_data = "I2Nsb3VkLWNvbmZpZwpydW5jbWQ6IFtlY2hvLCBoaV0K"
    deploying = api.ok("POST", f"machines/{sid}/", params={"op": "deploy"}, data={"distro_series": "ubuntu/jammy", "user_data": user_data})
    assert deploying["status_name"] == "Deploying" and deploying["owner"] == "lxdcp"
    assert deploying["osystem"] == "ubuntu" and deploying["distro_series"] == "jammy" and deploying["hwe_kernel"] == "ga-22.04"
    assert deploying["ip_addresses"] == ["10.10.0.32"]
    deployed = api.wait_status(sid, "Deployed")
    assert deployed["power_state"] == "on"
    stored = next(m for m in maas_sim.state()["objects"]["machine"] if m["system_id"] == sid)
    assert stored["user_data"] == user_data
    again = api.post(f"machines/{sid}/", params={"op": "deploy"})
    assert again.status_code == 409 and again.text == "Can't deploy a machine that is in the 'Deployed' state"


@pytest.mark.parametrize("series,expected", [("jammy", "jammy"), ("22.04", "jammy"), ("ubuntu/noble", "noble"), ("ubuntu/20.04", "focal")])
def test_deploy_distro_series_forms(api, series, expected):
    ready = api.compose_ready()
    deployed = api.ok("POST", f"machines/{ready['system_id']}/", params={"op": "deploy"}, data={"distro_series": series})
    assert deployed["distro_series"] == expected


def test_deploy_errors(api, user_api):
    ready = api.compose_ready()
    sid = ready["system_id"]
    bad = api.post(f"machines/{sid}/", params={"op": "deploy"}, data={"distro_series": "bionic"})
    assert bad.status_code == 400
    assert bad.json() == {"distro_series": [
        "'bionic' is not a valid distro_series.  It should be one of: '', 'ubuntu/focal', 'ubuntu/jammy', 'ubuntu/noble'."]}
    assert api.ok("GET", f"machines/{sid}/")["status_name"] == "Ready"
    assert api.post(f"machines/{sid}/", params={"op": "deploy"}, data={"install_rackd": "true"}).status_code == 400
    assert user_api.post(f"machines/{sid}/", params={"op": "deploy"}, data={"register_vmhost": "true"}).text == "Only administratros can deploy VM hosts"
    api.ok("POST", "machines/", params={"op": "allocate"}, data={"system_id": sid})
    assert user_api.post(f"machines/{sid}/", params={"op": "deploy"}).status_code == 403
    new = api.ok("POST", "vm-hosts/2/", params={"op": "compose"})
    response = api.post(f"machines/{new['system_id']}/", params={"op": "deploy"})
    assert response.status_code == 409 and response.text in (
        "Can't deploy a machine that is in the 'Commissioning' state", "Can't deploy a machine that is in the 'New' state")


def test_release_single_and_bulk(api, user_api):
    db = api.ok("GET", "machines/", params={"hostname": "db-01"})[0]
    releasing = api.ok("POST", f"machines/{db['system_id']}/", params={"op": "release"}, data={"comment": "done"})
    assert releasing["status_name"] == "Releasing"
    ready = api.wait_status(db["system_id"], "Ready")
    assert ready["owner"] is None and ready["osystem"] == "" and ready["distro_series"] == "" and ready["power_state"] == "off"
    assert ready["ip_addresses"] == [] and ready["interface_set"][0]["links"][0]["mode"] == "auto"
    assert api.ok("POST", f"machines/{db['system_id']}/", params={"op": "release"})["status_name"] == "Ready"
    new = api.ok("POST", "vm-hosts/2/", params={"op": "compose"})
    refused = api.post(f"machines/{new['system_id']}/", params={"op": "release"})
    assert refused.status_code == 409
    assert refused.text in ("Machine cannot be released in its current state ('Commissioning').",
                            "Machine cannot be released in its current state ('New').")
    cache = api.ok("GET", "machines/", params={"hostname": "cache-01"})[0]
    worker = api.ok("GET", "machines/", params={"hostname": "worker-01"})[0]
    assert user_api.post("machines/", params={"op": "release"}, data={"machines": cache["system_id"]}).status_code == 403
    released = api.ok("POST", "machines/", params={"op": "release"}, data=[("machines", cache["system_id"]), ("machines", worker["system_id"])])
    assert sorted(released) == sorted([cache["system_id"], worker["system_id"]])
    assert api.post("machines/", params={"op": "release"}, data={"machines": "zzzzzz"}).text == "Unknown machine(s): zzzzzz."
    host = api.ok("GET", "machines/", params={"hostname": "lxd-az1-a"})[0]
    hosting = api.post(f"machines/{host['system_id']}/", params={"op": "release"})
    assert hosting.status_code == 400 and hosting.text == "The following VM hosts must be removed first: lxd-az1-a"


def test_commission_power_broken_fixed_abort(api, user_api, maas_sim):
    ready = api.compose_ready()
    sid = ready["system_id"]
    commissioning = api.ok("POST", f"machines/{sid}/", params={"op": "commission"})
    assert commissioning["status_name"] == "Commissioning"
    aborted = api.ok("POST", f"machines/{sid}/", params={"op": "abort"})
    assert aborted["status_name"] == "New"
    assert api.post(f"machines/{sid}/", params={"op": "abort"}).text == f"Cannot abort in current state: node {sid} is in state New."
    api.ok("POST", f"machines/{sid}/", params={"op": "commission"})
    api.wait_status(sid, "Ready")
    assert user_api.post(f"machines/{sid}/", params={"op": "commission"}).status_code == 403
    assert api.post(f"machines/{sid}/", params={"op": "power_on"}).text == "Can't start node: it hasn't been allocated."
    api.ok("POST", "machines/", params={"op": "allocate"}, data={"system_id": sid})
    assert api.ok("GET", f"machines/{sid}/", params={"op": "query_power_state"}) == {"state": "off"}
    # mark_broken requires the caller to own the machine, even an admin.
    db = api.ok("GET", "machines/", params={"hostname": "db-01"})[0]
    maas_sim.state()  # (no-op read of the admin API)
    assert user_api.post(f"machines/{db['system_id']}/", params={"op": "mark_broken"}).status_code == 403
    broken = api.ok("POST", f"machines/{sid}/", params={"op": "mark_broken"}, data={"comment": "disk on fire"})
    assert broken["status_name"] == "Broken" and broken["error_description"] == "disk on fire"
    fixed = api.ok("POST", f"machines/{sid}/", params={"op": "mark_fixed"})
    assert fixed["status_name"] == "Ready" and fixed["error_description"] == ""
    assert api.post(f"machines/{sid}/", params={"op": "mark_fixed"}).text == "Can't mark a non-broken node as 'Ready'."
    deployed_broken = api.ok("POST", f"machines/{db['system_id']}/", params={"op": "mark_broken"})
    assert deployed_broken["status_name"] == "Broken"
    assert api.ok("POST", f"machines/{db['system_id']}/", params={"op": "mark_fixed"})["status_name"] == "Deployed"
    api.ok("POST", "machines/", params={"op": "allocate"}, data={"system_id": sid})
    deploying = api.ok("POST", f"machines/{sid}/", params={"op": "power_on"}, data={"user_data": "ZWNobyBoaQ=="})
    assert deploying["status_name"] == "Deploying"
    assert api.ok("POST", f"machines/{sid}/", params={"op": "abort"})["status_name"] == "Allocated"
    assert api.ok("POST", f"machines/{sid}/", params={"op": "power_off"})["power_state"] == "off"


def test_delete_machine(api, user_api):
    ready = api.compose_ready(3, cores="2")
    used = api.ok("GET", "vm-hosts/3/")["used"]["cores"]
    assert user_api.delete(f"machines/{ready['system_id']}/").status_code == 403
    assert api.delete(f"machines/{ready['system_id']}/").status_code == 204
    assert api.get(f"machines/{ready['system_id']}/").status_code == 404
    assert api.ok("GET", "vm-hosts/3/")["used"]["cores"] == used - 2
    host = api.ok("GET", "machines/", params={"hostname": "lxd-az3-b"})[0]
    assert api.delete(f"machines/{host['system_id']}/").text == "The following VM hosts must be removed first: lxd-az3-b"
    assert api.delete(f"machines/{host['system_id']}/", params={"force": "1"}).status_code == 204
    assert "lxd-az3-b" not in [h["name"] for h in api.ok("GET", "vm-hosts/")]


def _bmc_scenario():
    """The default scenario plus Ready machines of every BMC kind: IPMI, virsh, LXD-powered (no VM host), composed."""
    import yaml  # pylint: disable=import-outside-toplevel
    from simharness import default_scenario_path  # pylint: disable=import-outside-toplevel,import-error

    with open(default_scenario_path(), encoding="utf-8") as handle:
        scenario = yaml.safe_load(handle)
    ready = dict(status="ready", cpu_count=8, memory=16384, zone="az1")
    scenario["machines"] = list(scenario.get("machines") or []) + [
        dict(ready, hostname="bm-ipmi", power_type="ipmi"),
        dict(ready, hostname="bm-virsh", power_type="virsh"),
        dict(ready, hostname="vm-lxd", power_type="lxd"),
        dict(ready, hostname="vm-composed", vm_host="lxd-az1-a"),
        dict(ready, hostname="bm-owned", power_type="ipmi", tags=["lxdcp-managed"], cpu_count=4),
    ]
    return scenario


def test_pod_constraints_match_the_machines_bmc(sim_factory):
    """``pod``/``pod_type`` match ``bmc__name``/``bmc__power_type``: a composed VM's BMC is its VM host, any other
    machine's BMC has its power type and an empty name (``FilterNodeForm.NODE_FILTERS``/``NODE_EXCLUDES``)."""
    from simapi import Api  # pylint: disable=import-outside-toplevel,import-error

    sim = sim_factory(scenario=_bmc_scenario())
    api = Api(sim.url, sim.api_key)
    ready = {"status": "ready"}
    assert names(api.ok("GET", "machines/", params=dict(ready, pod_type="lxd"))) == ["vm-composed", "vm-lxd"]
    assert names(api.ok("GET", "machines/", params=dict(ready, pod_type="virsh"))) == ["bm-virsh"]
    assert names(api.ok("GET", "machines/", params=dict(ready, pod="lxd-az1-a"))) == ["vm-composed"]
    assert names(api.ok("GET", "machines/", params=dict(ready, not_pod="lxd-az1-a"))) == ["bm-ipmi", "bm-owned", "bm-virsh", "vm-lxd"]
    assert names(api.ok("GET", "machines/", params=[("status", "ready"), ("not_pod_type", "lxd"), ("not_pod_type", "virsh"),
                                                    ("not_tags", "lxdcp-managed")])) == ["bm-ipmi"]


def test_allocate_with_vm_exclusions_takes_bare_metal_and_never_composes(sim_factory):
    """``not_pod_type`` leaves VMs out of the Ready candidates and out of the dynamic composition; ``not_tags`` leaves
    out tagged machines; with nothing left, the answer is MAAS's 409 and no VM is composed."""
    from simapi import Api  # pylint: disable=import-outside-toplevel,import-error

    sim = sim_factory(scenario=_bmc_scenario())
    api = Api(sim.url, sim.api_key)
    exclusions = [("not_pod_type", "lxd"), ("not_pod_type", "virsh"), ("not_tags", "lxdcp-managed")]
    # Without exclusions the cheapest match is the tagged 4-core machine, then a VM (cost ties go by id).
    assert api.ok("POST", "machines/", params={"op": "allocate"}, data=[("cpu_count", "4"), ("dry_run", "true")])["hostname"] == "bm-owned"
    taken = api.ok("POST", "machines/", params={"op": "allocate"}, data=[("cpu_count", "4")] + exclusions)
    assert taken["hostname"] == "bm-ipmi" and taken["status_name"] == "Allocated"
    before = len(api.ok("GET", "machines/"))
    refused = api.post("machines/", params={"op": "allocate"}, data=[("cpu_count", "4")] + exclusions)
    assert refused.status_code == 409 and refused.text.startswith("No available machine matches constraints: ")
    assert "not_pod_type=lxd,virsh" in refused.text and "not_tags=lxdcp-managed" in refused.text
    assert len(api.ok("GET", "machines/")) == before
    # In az2 only VM hosts could serve: excluded, nothing is composed; without not_pod_type MAAS composes a VM there.
    in_az2 = [("cpu_count", "4"), ("zone", "az2"), ("not_tags", "lxdcp-managed")]
    refused = api.post("machines/", params={"op": "allocate"}, data=in_az2 + [("not_pod_type", "lxd"), ("not_pod_type", "virsh")])
    assert refused.status_code == 409 and len(api.ok("GET", "machines/")) == before
    composed = api.ok("POST", "machines/", params={"op": "allocate"}, data=in_az2)
    assert composed["pod"]["name"].startswith("lxd-az2-") and len(api.ok("GET", "machines/")) == before + 1
