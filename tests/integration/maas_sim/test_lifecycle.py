"""Timed transitions and persistence across restarts."""

from __future__ import annotations

import time

from simapi import Api

SLOW = {"commissioning": 0.6, "deploying": 0.6, "releasing": 0.4, "disk_erasing": 0.4}


def status_after(api, system_id, seconds):
    time.sleep(seconds)
    return api.ok("GET", f"machines/{system_id}/")["status_name"]


def test_transition_timings(sim_factory):
    sim = sim_factory(timings=SLOW)
    api = Api(sim.url, sim.api_key)
    start = time.monotonic()
    composed = api.ok("POST", "vm-hosts/2/", params={"op": "compose"})
    sid = composed["system_id"]
    assert api.ok("GET", f"machines/{sid}/")["status_name"] == "Commissioning"
    while api.ok("GET", f"machines/{sid}/")["status_name"] == "Commissioning":
        time.sleep(0.02)
    assert time.monotonic() - start >= 0.6
    assert api.ok("GET", f"machines/{sid}/")["status_name"] == "Ready"
    api.ok("POST", f"machines/{sid}/", params={"op": "deploy"})
    assert status_after(api, sid, 0.1) == "Deploying"
    assert status_after(api, sid, 0.7) == "Deployed"
    api.ok("POST", f"machines/{sid}/", params={"op": "release"}, data={"erase": "true"})
    assert api.ok("GET", f"machines/{sid}/")["status_name"] == "Disk erasing"
    assert status_after(api, sid, 0.6) == "Ready"


def test_zero_timings_are_instant(sim_factory):
    sim = sim_factory(timings={"commissioning": 0, "deploying": 0, "releasing": 0, "disk_erasing": 0})
    api = Api(sim.url, sim.api_key)
    composed = api.ok("POST", "vm-hosts/2/", params={"op": "compose"})
    assert api.ok("GET", f"machines/{composed['system_id']}/")["status_name"] == "Ready"
    deploying = api.ok("POST", f"machines/{composed['system_id']}/", params={"op": "deploy"})
    assert deploying["status_name"] == "Deploying"  # the deploy answer itself still says Deploying, as in MAAS
    assert api.ok("GET", f"machines/{composed['system_id']}/")["status_name"] == "Deployed"


def test_failures_decided_by_faults(sim_factory):
    sim = sim_factory(timings={"commissioning": 0.1, "deploying": 0.1})
    api = Api(sim.url, sim.api_key)
    sim.faults(commission_fail=["bad-commission"], deploy_fail=["bad-deploy"])
    first = api.ok("POST", "vm-hosts/2/", params={"op": "compose"}, data={"hostname": "bad-commission"})
    assert status_after(api, first["system_id"], 0.3) == "Failed commissioning"
    failed = api.ok("GET", f"machines/{first['system_id']}/")
    assert failed["status_message"] == "Failed commissioning" and failed["commissioning_status_name"] == "Failed"
    second = api.ok("POST", "vm-hosts/2/", params={"op": "compose"}, data={"hostname": "bad-deploy", "skip_commissioning": "1"})
    api.ok("POST", f"machines/{second['system_id']}/", params={"op": "deploy"})
    assert status_after(api, second["system_id"], 0.3) == "Failed deployment"
    released = api.ok("POST", f"machines/{second['system_id']}/", params={"op": "release"})
    assert released["status_name"] == "Releasing"


def test_restart_keeps_everything_including_pending_transitions(sim_factory, tmp_path):
    state = str(tmp_path / "maas.db")
    sim = sim_factory(state=state, timings={"commissioning": 0.1, "deploying": 4.0, "releasing": 0.1})
    api = Api(sim.url, sim.api_key)
    composed = api.ok("POST", "vm-hosts/1/", params={"op": "compose"},
                      data={"hostname": "survivor", "cores": "3", "skip_commissioning": "1", "interfaces": "eth0:ip=10.10.0.170"})
    sid = composed["system_id"]
    api.ok("POST", "tags/", data={"name": "persisted"})
    api.ok("POST", "ipaddresses/", params={"op": "reserve"}, data={"ip": "10.10.0.171"})
    api.ok("POST", f"machines/{sid}/", params={"op": "deploy"}, data={"user_data": "kept"})
    sim.faults(latency=0.01)
    before = api.ok("GET", f"machines/{sid}/")
    host_before = api.ok("GET", "vm-hosts/1/")
    assert before["status_name"] == "Deploying"
    sim.restart()
    after = api.ok("GET", f"machines/{sid}/")
    assert after["status_name"] == "Deploying"
    assert after["ip_addresses"] == ["10.10.0.170"] and after["cpu_count"] == 3
    assert api.ok("GET", "vm-hosts/1/") == host_before
    assert "persisted" in [t["name"] for t in api.ok("GET", "tags/")]
    assert [a["ip"] for a in api.ok("GET", "ipaddresses/", params={"ip": "10.10.0.171"})] == ["10.10.0.171"]
    assert sim.faults()["latency"] == 0.01
    deadline = time.monotonic() + 15
    while api.ok("GET", f"machines/{sid}/")["status_name"] == "Deploying" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.ok("GET", f"machines/{sid}/")["status_name"] == "Deployed"
    stored = next(m for m in sim.state()["objects"]["machine"] if m["system_id"] == sid)
    assert stored["user_data"] == "kept"
    # New ids keep increasing after a restart.
    other = api.ok("POST", "vm-hosts/1/", params={"op": "compose"}, data={"skip_commissioning": "1"})
    assert other["system_id"] != sid
    assert api.ok("GET", f"machines/{other['system_id']}/")["virtualmachine_id"] > after["virtualmachine_id"]


def test_reset_reloads_the_scenario(maas_sim, api):
    api.ok("POST", "zones/", data={"name": "temporary"})
    maas_sim.faults(latency=0.01)
    maas_sim.reset()
    assert "temporary" not in [z["name"] for z in api.ok("GET", "zones/")]


def test_api_key_option_applies_to_a_restored_state(sim_factory, tmp_path):
    state = str(tmp_path / "keys.db")
    first = sim_factory(state=state)
    Api(first.url, first.api_key).ok("POST", "tags/", data={"name": "before-key-change"})
    first.stop()
    second = sim_factory(state=state, api_key="new:admin:key")
    api = Api(second.url, "new:admin:key")
    assert "before-key-change" in [t["name"] for t in api.ok("GET", "tags/")]
    assert Api(second.url, first.api_key).get("tags/").status_code == 401
