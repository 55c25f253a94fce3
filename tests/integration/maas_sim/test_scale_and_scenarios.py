"""10,000 machines, custom scenarios and scenario errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from simapi import Api
from simharness import SimError

BULK = {
    "generate_machines": [{"count": 10000, "prefix": "bulk", "status": "ready", "zone": "az1", "cpu_count": 4, "memory": 8192}],
    "zones": [{"name": "az1"}],
    "subnets": [{"cidr": "10.20.0.0/16", "gateway_ip": "10.20.0.1"}],
}


def test_ten_thousand_machines(sim_factory):
    sim = sim_factory(scenario=BULK)
    api = Api(sim.url, sim.api_key)
    machines = api.ok("GET", "machines/")
    assert len(machines) == 10000
    assert len({m["system_id"] for m in machines}) == 10000
    assert machines[0]["hostname"] == "bulk-00001" and machines[-1]["hostname"] == "bulk-10000"
    assert all(m["status_name"] == "Ready" and m["zone"]["name"] == "az1" for m in machines)
    middle = machines[5000]
    assert api.ok("GET", "machines/", params={"hostname": middle["hostname"]}) == [middle]
    # A change shows up in the list (the per-machine JSON cache is invalidated).
    api.ok("POST", f"machines/{middle['system_id']}/", params={"op": "deploy"})
    again = api.ok("GET", "machines/", params={"status": "deploying"}) + api.ok("GET", "machines/", params={"status": "deployed"})
    assert [m["system_id"] for m in again] == [middle["system_id"]]
    assert again[0]["ip_addresses"] == ["10.20.0.2"]
    assert len(api.ok("GET", "machines/", params={"status": "ready"})) == 9999
    api.ok("PUT", "zones/az1/", data={"description": "renamed zone"})
    assert api.ok("GET", "machines/")[9999]["zone"]["description"] == "renamed zone"


def test_custom_scenario_minimal(sim_factory):
    scenario = {
        "users": [{"username": "root", "is_superuser": True, "api_key": "a:b:c"}, {"username": "dev", "api_key": "d:e:f"}],
        "zones": [{"name": "lab"}],
        "subnets": [{"cidr": "192.168.50.0/24", "gateway_ip": "192.168.50.1",
                     "ip_ranges": [{"type": "dynamic", "start": "192.168.50.100", "end": "192.168.50.200"}]}],
        "vm_hosts": [{"name": "virsh-1", "type": "virsh", "zone": "lab", "cores": 8, "memory": 16384,
                      "storage_pools": [{"name": "images", "size": "100G"}], "host": {"ip": "192.168.50.10"}}],
        "machines": [{"hostname": "metal-1", "status": "allocated", "owner": "dev", "power_type": "ipmi", "ip": "192.168.50.20",
                      "ip_mode": "static"}],
        "timings": {"commissioning": 0, "deploying": 0, "releasing": 0},
    }
    sim = sim_factory(scenario=scenario)
    assert (sim.api_key, sim.user_api_key) == ("a:b:c", "d:e:f")
    api = Api(sim.url, sim.api_key)
    vm_host = api.ok("GET", "vm-hosts/")[0]
    assert vm_host["type"] == "virsh" and vm_host["storage_pools"][0]["name"] == "images"
    assert api.ok("GET", "vm-hosts/1/", params={"op": "parameters"})["power_address"] == "qemu+ssh://ubuntu@192.168.50.10/system"
    metal = api.ok("GET", "machines/", params={"hostname": "metal-1"})[0]
    assert metal["owner"] == "dev" and metal["status_name"] == "Allocated" and metal["ip_addresses"] == ["192.168.50.20"]
    dev = Api(sim.url, sim.user_api_key)
    assert dev.ok("POST", f"machines/{metal['system_id']}/", params={"op": "deploy"})["status_name"] == "Deploying"
    assert dev.ok("GET", f"machines/{metal['system_id']}/")["status_name"] == "Deployed"


@pytest.mark.parametrize("scenario,message", [
    ({"zonez": []}, "scenario: unknown keys ['zonez']"),
    ({"machines": [{"hostname": "x", "zone": "nowhere"}]}, "machines[0]: unknown zone 'nowhere'"),
    ({"vm_hosts": [{"name": "h", "cores": 1}]}, "vm_hosts[0]: memory is required"),
    ({"users": [{"username": "u", "api_key": "only:two"}]}, "users[0]: an API key has three non-empty colon-separated parts"),
    ({"timings": {"deploying": -1}}, "timings.deploying: must not be negative"),
    ({"faults": {"latency": "x"}}, "faults:"),
])
def test_scenario_errors_are_reported_before_start(sim_factory, scenario, message):
    with pytest.raises(SimError) as info:
        sim_factory(scenario=scenario)
    assert message in str(info.value)


def test_cli_reports_bad_scenario_file(tmp_path):
    path = tmp_path / "broken.yml"
    path.write_text("zones: [unclosed\n")
    script = os.path.join(os.path.dirname(sys.executable), "maas-sim")
    result = subprocess.run([script, "--port", "0", "--scenario", str(path)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "is not valid YAML" in result.stderr
