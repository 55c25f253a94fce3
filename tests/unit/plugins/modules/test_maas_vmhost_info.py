"""maas_vmhost_info: filters, capacity with over-commit, storage, health, project, errors."""

from __future__ import annotations

import pytest

from ansible_collections.lxdcp.maas.plugins.modules import maas_vmhost_info
from ansible_collections.lxdcp.maas.tests.unit.plugins import maasdata as data
from ansible_collections.lxdcp.maas.tests.unit.plugins.fakehttp import FakeMaas, run_module

GB = 10 ** 9


@pytest.fixture
def fake():
    maas = FakeMaas()
    maas.add("GET", "vm-hosts/", json=[
        data.vm_host(2, "lxd-b", zone_name="az2", zone_id=2, cores=8, memory=32768, used_cores=6, used_memory=16384,
                     cpu_ratio=2.0, memory_ratio=1.5, tags=["pod-console-logging", "fast"], system_id="hostb"),
        data.vm_host(1, "lxd-a", cores=16, memory=65536, used_cores=2, used_memory=4096, system_id="hosta",
                     pools=[data.storage_pool("default", total=400 * GB, used=100 * GB),
                            data.storage_pool("ssd", total=200 * GB, used=0, default=False)]),
        data.vm_host(3, "kvm-c", kind="virsh", system_id=None),
    ])
    maas.add("GET", "zones/", json=[data.zone("az1", 1), data.zone("az2", 2), data.zone("az3", 3)])
    maas.add("GET", "resourcepools/", json=[data.pool("default", 0), data.pool("k8s", 1)])
    maas.add("GET", "machines/", json=[
        data.machine("hosta", "lxd-a", status="Deployed", power_state="on"),
        data.machine("hostb", "lxd-b", status="Broken", status_message="Marked broken", error_description="disk failed"),
    ])
    return maas


def run(fake, monkeypatch, **args):
    return run_module(maas_vmhost_info.main, args, fake, monkeypatch)


def by_name(result):
    return {h["name"]: h for h in result["vm_hosts"]}


def test_lists_lxd_hosts_sorted_by_id_with_free_capacity(fake, monkeypatch):
    result = run(fake, monkeypatch)
    assert result["changed"] is False
    assert [h["name"] for h in result["vm_hosts"]] == ["lxd-a", "lxd-b"]
    hosts = by_name(result)
    assert hosts["lxd-a"]["free"]["cores"] == 14 and hosts["lxd-a"]["free"]["memory"] == 61440
    # over-commit applied: 8 * 2.0 - 6 and 32768 * 1.5 - 16384
    assert hosts["lxd-b"]["free"]["cores"] == 10 and hosts["lxd-b"]["free"]["memory"] == 32768
    assert hosts["lxd-b"]["total"] == {"cores": 8, "memory": 32768, "local_storage": 500 * GB}
    assert hosts["lxd-b"]["used"]["cores"] == 6
    assert not fake.writes()


def test_storage_per_pool_in_bytes_and_gb(fake, monkeypatch):
    host = by_name(run(fake, monkeypatch))["lxd-a"]
    pools = {p["name"]: p for p in host["storage_pools"]}
    assert pools["default"]["available"] == 300 * GB and pools["default"]["available_gb"] == 300.0
    assert pools["ssd"]["total_gb"] == 200.0 and pools["ssd"]["default"] is False
    assert host["default_storage_pool"] == "default"
    assert host["free"]["local_storage"] == 500 * GB and host["free"]["local_storage_gb"] == 500.0


def test_health_comes_from_one_filtered_machines_request(fake, monkeypatch):
    hosts = by_name(run(fake, monkeypatch))
    machine_calls = fake.find("GET", "machines/")
    assert len(machine_calls) == 1 and machine_calls[0].query == {"id": ["hosta", "hostb"]}
    assert hosts["lxd-a"]["health"]["healthy"] is True and hosts["lxd-a"]["health"]["state"] == "healthy"
    unhealthy = hosts["lxd-b"]["health"]
    assert unhealthy["healthy"] is False and unhealthy["machine_status"] == "Broken"
    assert unhealthy["reason"] == "backing machine lxd-b is Broken: disk failed"


def test_host_without_backing_machine_is_unknown(fake, monkeypatch):
    host = by_name(run(fake, monkeypatch, type="any"))["kvm-c"]
    assert host["health"]["state"] == "unknown" and host["health"]["healthy"] is True
    assert host["host_system_id"] is None


def test_powered_off_backing_machine_is_unhealthy(monkeypatch):
    fake = FakeMaas()
    fake.add("GET", "vm-hosts/", json=[data.vm_host(1, "lxd-a", system_id="hosta")])
    fake.add("GET", "machines/", json=[data.machine("hosta", "lxd-a", status="Deployed", power_state="off")])
    host = run(fake, monkeypatch)["vm_hosts"][0]
    assert host["health"] == {"healthy": False, "state": "unhealthy", "reason": "backing machine lxd-a is powered off",
                              "system_id": "hosta", "machine_status": "Deployed", "power_state": "off"}


@pytest.mark.parametrize(
    "args, names",
    [
        ({"name": ["lxd-b"]}, ["lxd-b"]),
        ({"name": ["1"]}, ["lxd-a"]),
        ({"zone": ["az2"]}, ["lxd-b"]),
        ({"tags": ["fast"]}, ["lxd-b"]),
        ({"tags": ["fast", "gpu"]}, []),
        ({"type": "any"}, ["lxd-a", "lxd-b", "kvm-c"]),
        ({"type": "virsh"}, ["kvm-c"]),
        ({"pool": "k8s"}, []),
    ],
)
def test_filters(fake, monkeypatch, args, names):
    assert [h["name"] for h in run(fake, monkeypatch, **args)["vm_hosts"]] == names


def test_unknown_zone_fails_with_the_known_ones(fake, monkeypatch):
    result = run(fake, monkeypatch, zone=["az9"])
    assert result["failed"] and result["msg"] == "unknown zone(s): az9 (MAAS has: az1, az2, az3)"
    assert not fake.find("GET", "vm-hosts/")


def test_unknown_pool_fails(fake, monkeypatch):
    result = run(fake, monkeypatch, pool="nope")
    assert result["failed"] and result["msg"] == "unknown resource pool 'nope' (MAAS has: default, k8s)"


def test_project_is_opt_in_and_secrets_are_never_returned(fake, monkeypatch):
    parameters = {"power_address": "10.0.0.5:8443", "project": "k8s", "password": "lxd-trust-pw",
                  "certificate": "-----BEGIN CERTIFICATE-----", "key": "-----BEGIN PRIVATE KEY-----"}
    fake.add("GET", "vm-hosts/1/", op="parameters", json=parameters)
    fake.add("GET", "vm-hosts/2/", op="parameters", json=dict(parameters, project="default"))
    plain = run(fake, monkeypatch)
    assert "project" not in plain["vm_hosts"][0] and not fake.find("GET", "vm-hosts/1/", "parameters")
    result = run(fake, monkeypatch, include_project=True)
    assert by_name(result)["lxd-a"]["project"] == "k8s" and by_name(result)["lxd-b"]["project"] == "default"
    text = repr(result)
    for secret in ("lxd-trust-pw", "BEGIN CERTIFICATE", "PRIVATE KEY"):
        assert secret not in text


def test_project_without_admin_rights_is_null_with_a_warning(fake, monkeypatch):
    warnings = []
    fake.add("GET", "vm-hosts/1/", op="parameters", status=403, text="This method is reserved for admin users.")
    monkeypatch.setattr("ansible.module_utils.basic.AnsibleModule.warn", lambda self, msg: warnings.append(msg))
    result = run(fake, monkeypatch, include_project=True)
    assert [h["project"] for h in result["vm_hosts"]] == [None, None]
    assert len(fake.find("GET", "vm-hosts/1/", "parameters")) == 1
    assert not fake.find("GET", "vm-hosts/2/", "parameters")
    assert warnings == ["the LXD project of the VM hosts could not be read: op=parameters needs a MAAS admin key"]


def test_without_health_no_machines_request(fake, monkeypatch):
    result = run(fake, monkeypatch, include_health=False)
    assert not fake.find("GET", "machines/")
    assert result["vm_hosts"][0]["health"]["state"] == "unknown"


def test_no_matching_host_sends_no_machines_request(fake, monkeypatch):
    assert run(fake, monkeypatch, name=["nothing"])["vm_hosts"] == []
    assert not fake.find("GET", "machines/")


def test_vm_hosts_gone_after_maas_3_8_with_lxd_via_vm_host(monkeypatch):
    fake = FakeMaas().add("GET", "vm-hosts/", status=410, text="VM host (KVM) support has been removed from MAAS.")
    result = run_module(maas_vmhost_info.main, {"lxd_via": "vm-host"}, fake, monkeypatch)
    assert result["failed"] and "no longer supports VM hosts" in result["msg"] and result["vm_hosts"] == []
    assert "Set lxd_via: direct" in result["msg"]
    assert result["error"]["status"] == 410


def test_vm_hosts_gone_lists_the_lxd_hosts_instead(monkeypatch):
    fake = FakeMaas().add("GET", "vm-hosts/", status=410, text="VM host (KVM) support has been removed from MAAS.")
    fake.add("GET", "machines/", json=[])  # no machine tagged lxd-host
    result = run_module(maas_vmhost_info.main, {}, fake, monkeypatch)
    assert not result.get("failed"), result.get("msg")
    assert (result["via"], result["vm_hosts"]) == ("direct", [])


def test_check_mode_gives_the_same_answer(fake, monkeypatch):
    normal = run(fake, monkeypatch)
    checked = run_module(maas_vmhost_info.main, {}, fake, monkeypatch, check_mode=True)
    assert checked == normal and not fake.writes()
