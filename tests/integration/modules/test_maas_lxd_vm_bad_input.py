"""Bad input for maas_lxd_vm and maas_vmhost_info: each case fails with a specific message and sends no write."""

from __future__ import annotations

import re
import socket

import pytest

from ansible_collections.lxdcp.maas.plugins.module_utils.maas.api import MaasClient
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.errors import MaasAuthError
from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import sim_machines
from ansible_collections.lxdcp.maas.tests.unit.plugins.fakehttp import TLSServer

VM = {"hostname": "cp-1", "cluster": "prod", "cores": 2, "memory": "4G", "pool": "control-plane"}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CASES = [
    ("cores-zero", {"cores": 0}, "cores must be at least 1, got 0"),
    ("cores-negative", {"cores": -4}, "cores must be at least 1, got -4"),
    ("memory-too-small", {"memory": "512"}, "memory '512' is 512 MiB, below the minimum of 1024 MiB"),
    ("memory-malformed", {"memory": "lots"}, "memory 'lots' is not a size"),
    ("memory-bad-unit", {"memory": "4X"}, "memory '4X' is not a size"),
    ("disk-too-small", {"disks": [{"size": "500M"}]}, "disks[0].size '500M' is below 1 GiB"),
    ("hostname-invalid", {"hostname": "cp_1"}, "hostname 'cp_1' is not a valid MAAS hostname"),
    ("hostname-fqdn", {"hostname": "cp-1.maas"}, "use domain for the DNS domain"),
    ("unknown-zone", {"zone": ["az9"]}, "unknown zone(s): az9 (MAAS has: az1, az2, az3, default)"),
    ("unknown-pool", {"pool": "nope"}, "unknown resource pool 'nope' (MAAS has: control-plane, default)"),
    ("unknown-host-tag", {"host_tags": ["gpu"]}, "tightest constraint: tags"),
    ("unknown-vm-host", {"vm_host": "lxd-z"}, "no LXD VM host named 'lxd-z' (LXD VM hosts: lxd-az1-a, lxd-az1-b,"),
    ("unknown-domain", {"domain": "nope"}, "unknown domain 'nope' (MAAS has: maas)"),
    ("no-capacity", {"cores": 500}, "No LXD VM host can take cp-1: cannot place 1 VM (500 cores"),
    ("conflicting-vm-host-zone", {"vm_host": "lxd-az1-b", "zone": ["az2"]},
     "vm_host lxd-az1-b conflicts with the other options: it is in zone az1, not in az2"),
    ("conflicting-mode", {"provisioning_mode": "bare-metal", "vm_host": "lxd-az1-b"},
     "vm_host only apply to provisioning_mode: lxd"),
    ("conflicting-delete", {"delete_bare_metal": True}, "delete_bare_metal only applies to provisioning_mode: bare-metal"),
    ("osystem-without-series", {"osystem": "ubuntu"}, "osystem needs distro_series"),
    ("ip-malformed", {"interfaces": [{"ip": "10.10.0.300"}]}, "address '10.10.0.300' is not a valid IPv4 address"),
    ("ip-dynamic-range", {"interfaces": [{"ip": "10.10.0.210"}]}, "is inside the dynamic (DHCP) range"),
    ("ip-reserved-range", {"interfaces": [{"ip": "10.10.0.20"}]}, "is inside the reserved range"),
    ("ip-in-use", {"interfaces": [{"ip": "10.10.0.50"}]}, "address 10.10.0.50 is already in use by machine db-01"),
    ("ip-outside-subnets", {"interfaces": [{"ip": "192.168.77.5"}]}, "is in no subnet MAAS knows"),
    ("project-mismatch", {"project": "nope"}, "no LXD VM host uses LXD project 'nope'"),
    ("not-ours", {"hostname": "db-01"}, "Refusing to manage db-01"),
    ("not-ours-absent", {"hostname": "db-01", "state": "absent"}, "Refusing to manage db-01"),
    ("api-key-malformed", {"api_key": "only:two"}, "api_key is malformed"),
    ("api-key-unknown", {"api_key": "nobody:no-token:no-secret"}, "401"),
    ("api-key-wrong-secret", {"api_key": "lxdcp:sim-token:wrong-secret"},
     "Invalid signature. Expected signature base string: <redacted>'. Check api_key"),
    ("retries-negative", {"retries": -1}, "retries must be 0 or more"),
]


@pytest.mark.parametrize("name, args, message", CASES, ids=[case[0] for case in CASES])
def test_bad_input_fails_specifically_without_writes(playbook, maas_sim, name, args, message):
    task_args = dict(VM)
    task_args.update(args)
    machines = sim_machines(maas_sim)
    run = playbook.run({"name": name, "lxdcp.maas.maas_lxd_vm": task_args})
    assert not run.ok
    assert message in run.result["msg"], run.result["msg"]
    assert run.writes == [], run.write_summary()
    assert "Traceback" not in run.result["msg"] and "sim-secret" not in run.result["msg"]
    assert sim_machines(maas_sim) == machines


def test_wrong_token_secret_never_shows_the_real_one(playbook, maas_sim):
    # maas-sim answers as piston does: "Expected signature base string: &<the real token secret>".
    consumer, token, real = maas_sim.api_key.split(":")
    wrong_key = "%s:%s:wrong-secret" % (consumer, token)
    lines = []
    with pytest.raises(MaasAuthError) as info:
        MaasClient(maas_sim.url, wrong_key, logger=lines.append).list_machines()
    error = info.value
    assert error.status == 401
    assert error.body == "Authorization Error: 'Invalid signature. Expected signature base string: <redacted>'"
    assert "Expected signature base string: <redacted>'. Check api_key" in error.message
    run = playbook.run({"lxdcp.maas.maas_lxd_vm": dict(VM, api_key=wrong_key)}, verbosity=3)
    assert not run.ok and "Expected signature base string: <redacted>'" in run.result["msg"], run.result["msg"]
    texts = [str(error), repr(error), repr(error.args), repr(error.to_dict()), run.stdout, run.stderr, repr(run.results)] + lines
    for text in texts:
        assert real not in text and "&" + real not in text
        assert "secret>" not in text


def test_pool_without_lxd_hosts(playbook, maas_sim):
    MaasClient(maas_sim.url, maas_sim.api_key).post("resourcepools/", data={"name": "empty"}, verify=lambda: None)
    run = playbook.run({"lxdcp.maas.maas_lxd_vm": dict(VM, pool="empty")})
    assert not run.ok and "no host is in pool 'empty'" in run.result["msg"], run.result["msg"]
    assert run.writes == []


def test_unreachable_url(playbook):
    url = "http://127.0.0.1:%d/MAAS" % free_port()
    run = playbook.run({"lxdcp.maas.maas_lxd_vm": dict(VM, url=url, retries=0)})
    assert not run.ok
    expected = (r"Gave up on GET /machines/ after 1 attempt\(s\) in [\d.]+ s: Cannot reach MAAS at {url} for GET /machines/: "
                r"HTTPConnection\(host='127\.0\.0\.1', port={port}\): Failed to establish a new connection: \[Errno 111\] "
                r"Connection refused\. Check url \(MAAS_URL\), that the MAAS region controller runs and that this host can "
                r"reach it\.").format(url=re.escape(url), port=url.split(":")[2].split("/")[0])
    assert re.fullmatch(expected, run.result["msg"]), run.result["msg"]
    assert run.result["error"]["type"] == "MaasRetriesExhausted" and run.result["changed"] is False


def test_tls_failure_with_a_self_signed_certificate(playbook, tmp_path):
    with TLSServer(tmp_path) as server:
        run = playbook.run({"lxdcp.maas.maas_lxd_vm": dict(VM, url=server.url)})
    assert not run.ok
    assert "TLS connection to MAAS at %s failed" % server.url in run.result["msg"]
    assert "certificate verify failed" in run.result["msg"] and "ca_path" in run.result["msg"]
    assert run.requests == []


@pytest.mark.parametrize(
    "args, message",
    [
        ({"zone": ["az9"]}, "unknown zone(s): az9"),
        ({"pool": "nope"}, "unknown resource pool 'nope'"),
        ({"type": "xen"}, "value of type must be one of: lxd, virsh, any, got: xen"),
        ({"api_key": "a:b"}, "api_key is malformed"),
    ],
)
def test_vmhost_info_bad_input(playbook, args, message):
    run = playbook.run({"lxdcp.maas.maas_vmhost_info": args})
    assert not run.ok and message in run.result["msg"], run.result["msg"]
    assert run.writes == []
