"""MAAS 4.0 mode: version, the 410 stubs, machine shape, allocation and scenarios (canonical/maas master, 08f65b9c1)."""

from __future__ import annotations

import pytest
from simapi import Api
from simharness import SimError, SimServer

GONE = "VM host (KVM) support has been removed from MAAS."
CAPABILITIES = ["networks-management", "static-ipaddresses", "ipv6-deployment-ubuntu", "devices-management", "storage-deployment-ubuntu",
                "network-deployment-ubuntu", "bridging-interface-ubuntu", "bridging-automatic-ubuntu", "authenticate-api"]

# Every route and export master's stubs keep (api/pods.py, api/vmcluster.py, api/virtualmachine.py, urls_api.py).
GONE_REQUESTS = [
    ("GET", "vm-hosts/", None), ("POST", "vm-hosts/", None), ("GET", "pods/", None), ("POST", "pods/", None),
    ("GET", "vm-clusters/", None), ("GET", "virtual-machines/", None),
    ("GET", "vm-clusters/1", None), ("PUT", "vm-clusters/1", None), ("DELETE", "vm-clusters/1", None),
    ("GET", "virtual-machines/7", None),
] + [
    (method, f"{base}/{ident}/", op)
    for base in ("vm-hosts", "pods") for ident in ("1", "99", "not-a-number")
    for method, op in (("GET", None), ("PUT", None), ("DELETE", None), ("GET", "parameters"), ("POST", "refresh"),
                       ("POST", "compose"), ("POST", "add_tag"), ("POST", "remove_tag"))
]


def test_version_and_capabilities(maas_sim40):
    anon = Api(maas_sim40.url, None)
    body = anon.ok("GET", "version/")
    assert body == {"capabilities": CAPABILITIES, "version": "4.0.0", "subversion": ""}
    assert maas_sim40.info()["maas_version"] == "4.0.0"


def test_cli_flag_picks_the_40_scenario(sim_factory):
    sim = sim_factory(extra_args=["--maas-version", "4.0"])
    api = Api(sim.url, sim.api_key)
    assert api.ok("GET", "version/")["version"] == "4.0.0"
    hosts = api.ok("GET", "machines/", params={"tags": "lxd-host"})
    assert [m["hostname"] for m in hosts] == ["lxd-az1-a", "lxd-az1-b", "lxd-az2-a", "lxd-az2-b", "lxd-az3-a", "lxd-az3-b"]
    assert {m["status_name"] for m in hosts} == {"Deployed"}
    assert api.get("vm-hosts/").status_code == 410


@pytest.mark.parametrize("method,path,op", GONE_REQUESTS)
def test_every_vm_host_path_and_op_is_gone(api40, maas_sim40, method, path, op):
    for client in (api40, Api(maas_sim40.url, maas_sim40.user_api_key)):
        response = client.request(method, path, params={"op": op} if op else None)
        assert response.status_code == 410, (method, path, op, response.text)
        assert response.text == GONE
        assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_op_suffix_routes_and_dispatch_errors_before_410(api40, maas_sim40):
    assert api40.post("vm-hosts/1/op-compose").status_code == 410
    assert api40.get("pods/1/op-parameters").status_code == 410
    # Dispatch still happens first: no create on a VM host, an unknown op, a method the stub lacks.
    assert api40.post("vm-hosts/1/").text == "Unrecognised signature: method=POST op=None"
    assert api40.post("vm-hosts/1/", op="frobnicate").text == "Unrecognised signature: method=POST op=frobnicate"
    refused = api40.post("virtual-machines/")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET"
    assert api40.put("vm-clusters/").status_code == 405
    # The object routes of VMs and clusters have no trailing slash in MAAS's urls_api.py.
    assert api40.get("virtual-machines/7/").text == "Unknown API endpoint: /MAAS/api/2.0/virtual-machines/7/."
    assert Api(maas_sim40.url, None).get("vm-hosts/").status_code == 401
    described = {resource["name"] for resource in api40.ok("GET", "describe/")["resources"]}
    assert not described & {"VmHostHandler", "VmHostsHandler", "PodHandler", "PodsHandler", "VmClusterHandler", "VmClustersHandler",
                            "VirtualMachineHandler", "VirtualMachinesHandler"}
    assert "MachinesHandler" in described


def test_machine_json_has_no_pod_fields(api40, api):
    listed = api40.ok("GET", "machines/")
    one = api40.ok("GET", f"machines/{listed[0]['system_id']}/")
    reference = api.ok("GET", "machines/")[0]
    for machine in (listed[0], one):
        assert set(reference) - set(machine) == {"pod", "virtualmachine_id"}
        assert set(machine) <= set(reference)


@pytest.mark.parametrize("key", ["pod", "not_pod", "pod_type", "not_pod_type"])
def test_pod_constraints_are_unknown(api40, key):
    allocated = api40.post("machines/", op="allocate", data={key: "lxd-az1-a"})
    assert allocated.status_code == 400 and allocated.json() == {key: ["No such constraint."]}
    listed = api40.get("machines/", params={key: "lxd"})
    assert listed.status_code == 400 and listed.json() == {key: ["No such constraint."]}


def test_allocate_never_composes(api40, maas_sim40):
    seq = maas_sim40.seq()
    response = api40.post("machines/", op="allocate", data={"cpu_count": "64", "zone": "az1"})
    assert response.status_code == 409
    assert response.text.startswith("No available machine matches constraints: [('cpu_count', ['64']), ('zone', ['az1'])]")
    assert len(api40.ok("GET", "machines/")) == 9
    assert [entry["status"] for entry in maas_sim40.requests(seq)] == [409, 200]
    picked = api40.ok("POST", "machines/", params={"op": "allocate"}, data={"zone": "az3"})
    assert picked["hostname"] == "metal-03" and "pod" not in picked


@pytest.mark.parametrize("option", ["install_rackd", "install_kvm", "register_vmhost"])
def test_allocation_options_removed(api40, option):
    refused = api40.post("machines/", op="allocate", data={option: "true"})
    assert refused.status_code == 400
    assert refused.text == f"Support for {option} allocation parameter has been removed."
    # Not refused when false, but AcquireNodeForm does not know the key (it is no IGNORED_FIELDS entry either).
    assert api40.post("machines/", op="allocate", data={option: "false"}).json() == {option: ["No such constraint."]}
    ready = api40.ok("GET", "machines/", params={"hostname": "metal-01"})[0]
    deploy = api40.post(f"machines/{ready['system_id']}/", op="deploy", data={option: "1"})
    assert deploy.status_code == 400 and deploy.text == f"Support for {option} allocation parameter has been removed."


def test_36_messages_stay(api):
    ready = next(m for m in api.ok("GET", "machines/") if m["status_name"] == "Ready" or m["hostname"] == "db-01")
    assert api.post(f"machines/{ready['system_id']}/", op="deploy", data={"install_rackd": "1"}).text == (
        "Deploying a machine as a rackd has been disabled and it's not supported anymore.")


def test_scenarios_without_vm_hosts(sim_factory, tmp_path):
    with pytest.raises(SimError, match=r"vm_hosts: MAAS 4.0.0 has no VM hosts \(removed in 4.0\); describe the machines that run LXD under lxd_hosts"):
        sim_factory(scenario={"maas_version": "4.0", "vm_hosts": [{"name": "h", "cores": 4, "memory": 8192}]})
    with pytest.raises(SimError, match=r"machines\[0\]\.vm_host: MAAS 4.0.0 has no VM hosts"):
        sim_factory(scenario={"maas_version": "4.0", "machines": [{"hostname": "vm", "vm_host": "h"}]})
    with pytest.raises(SimError, match="maas_version: 'four' is not a MAAS version"):
        sim_factory(scenario={"maas_version": "four"})
    # A 3.6 state file holding VM hosts cannot be reopened as 4.0.
    state = str(tmp_path / "state.db")
    SimServer(state=state).close()
    with pytest.raises(SimError, match="--maas-version 4.0: the state holds VM hosts"):
        sim_factory(state=state, extra_args=["--maas-version", "4.0"])


def test_lxd_hosts_scenario(sim_factory):
    scenario = {
        "maas_version": "4.0.0~beta1",
        "zones": [{"name": "az1"}],
        "pools": [{"name": "edge"}],
        "subnets": [{"cidr": "10.20.0.0/24", "gateway_ip": "10.20.0.1"}],
        "lxd_hosts": [
            {"hostname": "lxd-1", "zone": "az1", "pool": "edge", "ip": "10.20.0.11", "lxd_endpoint": "https://127.0.0.1:8443"},
            {"hostname": "lxd-2", "tags": ["lxd-host", "gpu"], "status": "ready"},
        ],
    }
    sim = sim_factory(scenario=scenario)
    api = Api(sim.url, sim.api_key)
    assert api.ok("GET", "version/")["version"] == "4.0.0~beta1"
    first, second = api.ok("GET", "machines/", params={"tags": "lxd-host"})
    assert (first["hostname"], first["status_name"], first["zone"]["name"], first["pool"]["name"]) == ("lxd-1", "Deployed", "az1", "edge")
    assert first["ip_addresses"] == ["10.20.0.11"] and first["owner"] == "lxdcp"
    assert first["workload_annotations"] == {"lxd_endpoint": "https://127.0.0.1:8443"}
    assert (second["status_name"], second["tag_names"], second["owner_data"]) == ("Ready", ["lxd-host", "gpu"], {})
    assert sim.info()["lxd_hosts"] == {"lxd-1": "https://127.0.0.1:8443", "lxd-2": None}
    with pytest.raises(SimError, match=r"lxd_hosts\[0\]: unknown keys \['vm_host'\]"):
        sim_factory(scenario={"lxd_hosts": [{"hostname": "x", "vm_host": "y"}]})
