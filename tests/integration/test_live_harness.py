"""The live-MAAS harness itself (``live.py``, ``make integration-live``): refusal, clean-up on failure, leftovers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from live import LiveRefused, LiveSettings, MaasTarget, leftovers, one_test, settings_from_env, snapshot  # pylint: disable=import-error
# live.py puts tests/integration/maas_sim/ on sys.path for simapi.
from simapi import Api  # pylint: disable=import-error

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET = {"MAAS_URL": "http://maas.example.com:5240/MAAS", "MAAS_API_KEY": "a:b:c", "LXDCP_LIVE_ZONE": "z1",
          "LXDCP_LIVE_POOL": "p1", "LXDCP_LIVE_OK": "yes"}


def test_settings_need_a_confirmed_target_and_accept_both_variable_names():
    assert settings_from_env(TARGET) == LiveSettings("http://maas.example.com:5240/MAAS", "a:b:c", "z1", "p1")
    other_names = {"MAAS_ENDPOINT": TARGET["MAAS_URL"] + "/", "MAAS_APIKEY": "a:b:c", "LXDCP_LIVE_ZONE": "z1",
                   "LXDCP_LIVE_POOL": "p1", "LXDCP_LIVE_OK": "yes"}
    assert settings_from_env(other_names) == settings_from_env(TARGET)
    with pytest.raises(LiveRefused, match="LXDCP_LIVE_OK=yes is not set.*zone z1, pool p1 of http://maas.example.com"):
        settings_from_env(dict(TARGET, LXDCP_LIVE_OK="y"))
    with pytest.raises(LiveRefused) as refused:
        settings_from_env({"MAAS_API_KEY": "nocolons", "LXDCP_LIVE_OK": "yes"})
    for words in ("MAAS_URL (or MAAS_ENDPOINT) is not set", "not consumer:token:secret", "LXDCP_LIVE_ZONE", "LXDCP_LIVE_POOL"):
        assert words in str(refused.value)


def _env(**settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAAS_", "LXDCP_LIVE"))}
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", os.defpath)])
    env.update(settings)
    return env


def test_make_integration_live_refuses_an_unconfirmed_target():
    command = ["make", "-s", "-o", "venv", "-o", "collection-tree", "integration-live"]
    unconfirmed = _env(**{k: v for k, v in TARGET.items() if k != "LXDCP_LIVE_OK"})
    done = subprocess.run(command, cwd=ROOT, env=unconfirmed, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and "refusing to start: set LXDCP_LIVE_OK=yes" in done.stderr, done.stderr
    assert "pytest" not in done.stdout
    # pytest itself refuses too (LXDCP_LIVE=1 without a target), before collecting anything.
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-m", "live", "tests/integration/live"], cwd=ROOT,
                          env=_env(LXDCP_LIVE="1", LXDCP_LIVE_OK="yes"), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert "refusing to run the live-MAAS tests: MAAS_URL (or MAAS_ENDPOINT) is not set" in done.stdout + done.stderr


def test_a_failed_test_leaves_nothing_behind(sim_factory):
    sim = sim_factory()
    Api(sim.url, sim.api_key).ok("DELETE", "tags/lxdcp-managed/")  # a MAAS that never saw lxdcp.maas
    target = MaasTarget(LiveSettings(sim.url, sim.api_key, "az1", "default"))
    api = target.api
    before = snapshot(api)
    other = api.ok("POST", "tags/", data={"name": "someone-elses"})["name"]

    with pytest.raises(AssertionError, match="the test failed"):
        with one_test(target):
            host = api.ok("GET", "vm-hosts/")[0]
            ready = api.ok("POST", "vm-hosts/%s/" % host["id"], params={"op": "compose"},
                           data={"hostname": target.name("vm"), "cores": 1, "memory": 1024})
            deployed = api.ok("POST", "vm-hosts/%s/" % host["id"], params={"op": "compose"},
                              data={"hostname": target.name("deployed"), "cores": 1, "memory": 1024})
            api.wait_status(deployed["system_id"], "Ready", timeout=30)
            api.ok("POST", "machines/", params={"op": "allocate"}, data={"system_id": deployed["system_id"]})
            api.ok("POST", "machines/%s/" % deployed["system_id"], params={"op": "deploy"})
            for name in ("lxdcp-cluster-" + target.prefix, "lxdcp-managed"):
                api.ok("POST", "tags/", data={"name": name})
                api.ok("POST", "tags/%s/" % name, params={"op": "update_nodes"}, data={"add": ready["system_id"]})
            api.ok("POST", "dnsresources/", data={"fqdn": target.name("api") + ".maas", "ip_addresses": "10.10.0.77"})
            assert leftovers(before, snapshot(api))["machines"] == sorted([target.name("vm"), target.name("deployed")])
            raise AssertionError("the test failed")

    assert target.finish() == ["tag lxdcp-managed"]  # the session made it and no machine carries it any more
    after = snapshot(api)
    assert leftovers(before, after) == {"tags": [other]}  # VMs (and their capacity), the record, its address, our tags: gone
    assert after["vm_host_usage"] == before["vm_host_usage"]
