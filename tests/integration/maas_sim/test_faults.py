"""Fault injection: latency, 503/409 answers, dropped responses, VM host failures, 410 mode."""

from __future__ import annotations

import time

import pytest
import requests

from simapi import oauth_header


def test_latency(maas_sim, api):
    maas_sim.faults(latency=0.3)
    start = time.monotonic()
    api.ok("GET", "users/", params={"op": "whoami"})
    assert time.monotonic() - start >= 0.3
    maas_sim.clear_faults()


def test_error_rate_answers_503_with_retry_after(maas_sim, api):
    maas_sim.faults(error_rate=1.0, retry_after=3)
    response = api.get("machines/")
    assert response.status_code == 503 and response.headers["Retry-After"] == "3"
    maas_sim.faults(error_rate=0.5, seed=7)
    statuses = [api.get("zones/").status_code for _attempt in range(30)]
    assert set(statuses) == {200, 503}
    maas_sim.faults(error_rate=0.5, seed=7)
    assert [api.get("zones/").status_code for _attempt in range(30)] == statuses


def test_fail_next_matching_requests(maas_sim, api):
    maas_sim.faults(fail_next=[{"count": 2, "status": 503, "method": "POST", "op": "compose"},
                               {"count": 1, "status": 409, "path": "/zones/", "retry_after": 5}])
    seq = maas_sim.seq()
    assert api.get("machines/").status_code == 200
    first = api.post("vm-hosts/2/", op="compose")
    assert first.status_code == 503 and first.headers["Retry-After"] == "1"
    assert api.post("vm-hosts/2/", op="compose").status_code == 503
    assert api.post("vm-hosts/2/", op="compose").status_code == 200
    conflict = api.get("zones/")
    assert conflict.status_code == 409 and conflict.headers["Retry-After"] == "5"
    assert api.get("zones/").status_code == 200
    assert [e["status"] for e in maas_sim.requests(seq)] == [200, 503, 503, 200, 409, 200]
    # The failed composes changed nothing: only one machine was composed.
    assert len(api.ok("GET", "machines/", params={"pod": "lxd-az1-b"})) == 1
    assert [rule["count"] for rule in maas_sim.faults()["fail_next"]] == [0, 0]


def test_drop_response_after_commit(maas_sim, api):
    maas_sim.faults(drop_response=[{"op": "compose"}])
    with pytest.raises(requests.exceptions.RequestException):
        api.post("vm-hosts/2/", op="compose", data={"hostname": "dropped"})
    # The change was committed even though the client saw a broken connection.
    assert [m["hostname"] for m in api.ok("GET", "machines/", params={"hostname": "dropped"})] == ["dropped"]
    entry = maas_sim.requests(maas_sim.seq() - 2)[0]
    assert (entry["op"], entry["status"], entry["write"]) == ("compose", 200, True)
    assert api.post("vm-hosts/2/", op="compose").status_code == 200  # count 1 by default


def test_drop_response_on_delete(maas_sim, api):
    composed = api.ok("POST", "vm-hosts/2/", params={"op": "compose"}, data={"skip_commissioning": "1"})
    maas_sim.faults(drop_response=[{"method": "DELETE", "path": "/machines/"}])
    with pytest.raises(requests.exceptions.RequestException):
        api.delete(f"machines/{composed['system_id']}/")
    assert api.get(f"machines/{composed['system_id']}/").status_code == 404


def test_compose_failure_on_named_host(maas_sim, api):
    maas_sim.faults(compose_fail={"lxd-az1-b": "Failed to create VM: not enough free resources."})
    response = api.post("vm-hosts/2/", op="compose")
    assert response.status_code == 503
    assert response.text == "Unable to compose machine because: Failed to create VM: not enough free resources."
    assert api.post("vm-hosts/1/", op="compose").status_code == 200


def test_vm_host_offline(maas_sim, api):
    maas_sim.faults(vmhost_offline=["lxd-az1-b"])
    compose = api.post("vm-hosts/2/", op="compose")
    assert compose.status_code == 503
    assert compose.text.startswith("Unable to compose machine because: Pod 2: Failed to connect to the LXD REST API:")
    refresh = api.post("vm-hosts/2/", op="refresh")
    assert refresh.status_code == 503 and refresh.text.startswith("Pod 2: Failed to connect to the LXD REST API:")
    backing = api.ok("GET", "machines/", params={"hostname": "lxd-az1-b"})[0]
    assert backing["power_state"] == "error"
    # Allocation skips the offline host and composes elsewhere.
    allocated = api.ok("POST", "machines/", params={"op": "allocate"}, data={"zone": "az1", "cpu_count": "2"})
    assert allocated["pod"]["name"] == "lxd-az1-a"


def test_vms_on_an_offline_vm_host_show_a_power_error_and_recover(maas_sim, api):
    """MAAS queries a VM's power through its VM host: unreachable, the power state is error, the status unchanged."""
    vm = api.ok("GET", "machines/", params={"hostname": "db-01"})[0]
    assert vm["pod"]["name"] == "lxd-az1-a" and vm["power_state"] == "on"
    maas_sim.faults(vmhost_offline=["lxd-az1-a"])
    offline = api.ok("GET", "machines/", params={"hostname": "db-01"})[0]
    assert (offline["status_name"], offline["power_state"]) == ("Deployed", "error")
    others = [m for m in api.ok("GET", "machines/") if m.get("pod") and m["pod"]["name"] != "lxd-az1-a"]
    assert others and all(m["power_state"] != "error" for m in others)
    # Release cannot power it off through the host: the machine stays Deployed. Deleting it works.
    released = api.post("machines/%s/" % vm["system_id"], op="release")
    assert released.status_code == 200
    assert api.ok("GET", "machines/", params={"hostname": "db-01"})[0]["status_name"] == "Deployed"
    maas_sim.clear_faults()
    assert api.ok("GET", "machines/", params={"hostname": "db-01"})[0]["power_state"] == "on"


def test_vmhost_gone_mode(maas_sim, api, anon):
    maas_sim.faults(vmhost_gone=True)
    for path in ("vm-hosts/", "vm-hosts/1/", "pods/", "pods/1/"):
        response = api.get(path)
        assert response.status_code == 410, path
        assert response.text == "VM host (KVM) support has been removed from MAAS."
    assert api.post("vm-hosts/1/", op="compose").status_code == 410
    assert api.delete("vm-hosts/1/").status_code == 410
    assert anon.get("vm-hosts/").status_code == 401
    assert api.get("machines/").status_code == 200
    described = {r["name"] for r in api.ok("GET", "describe/")["resources"]}
    assert "VmHostHandler" not in described and "MachineHandler" in described
    maas_sim.faults(vmhost_gone=False)
    assert api.get("vm-hosts/").status_code == 200


def test_faults_validation_and_scenario_faults(maas_sim, sim_factory):
    with pytest.raises(Exception, match="unknown fault settings"):
        maas_sim.faults(explode=True)
    with pytest.raises(Exception, match="fail_next status must be 503 or 409"):
        maas_sim.faults(fail_next=[{"status": 500}])
    scenario = {"faults": {"vmhost_gone": True}}
    sim = sim_factory(scenario=scenario)
    assert requests.get(sim.api_url + "vm-hosts/", headers={"Authorization": oauth_header(sim.api_key)}, timeout=10).status_code == 410
    assert sim.faults()["vmhost_gone"] is True


def test_admin_api_is_not_logged(maas_sim):
    seq = maas_sim.seq()
    maas_sim.faults(latency=0)
    maas_sim.state()
    assert maas_sim.requests(seq) == []
    assert maas_sim.info()["maas_version"] == "3.6.1"
