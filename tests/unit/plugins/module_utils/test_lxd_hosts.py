"""lxd_hosts: what makes an LXD host unusable for a direct-mode VM, and a host that failed once in a run is not asked again."""

from __future__ import annotations

import pytest

from ansible_collections.lxdcp.maas.plugins.module_utils.lxd import errors
from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd_hosts import Defaults, host_entries, lxd_candidates, lxd_hosts, read_host
from ansible_collections.lxdcp.maas.tests.unit.plugins.fakehttp import FakeMaas
from ansible_collections.lxdcp.maas.tests.unit.plugins.fakelxd import URL, error, lxd_client, sync

SERVER = {"api_extensions": ["projects", "virtual-machines", "custom_block_volumes"], "auth": "trusted",
          "environment": {"server_version": "5.0.2", "driver": "lxc | qemu"}}
GIB = 1024 ** 3


def healthy(fake, project="default", bridge="br0"):
    """Script an LXD that can take a VM: trusted, qemu, the project and the bridge, 8 cores, 32 GiB, one pool."""
    fake.add("GET", "/1.0", json=sync(SERVER))
    fake.add("GET", "/1.0/projects/%s" % project, json=sync({"name": project}))
    fake.add("GET", "/1.0/networks/%s" % bridge, json=sync({"name": bridge, "type": "bridge"}))
    fake.add("GET", "/1.0/resources", json=sync({"cpu": {"total": 8}, "memory": {"total": 32 * GIB}}))
    fake.add("GET", "/1.0/instances", json=sync([]))
    fake.add("GET", "/1.0/storage-pools", json=sync([{"name": "default"}]))
    fake.add("GET", "/1.0/storage-pools/default/resources", json=sync({"space": {"total": 100 * GIB, "used": 0}}))
    return fake


class NoMachines(object):
    """A MAAS without LXD-host machines (no request may reach it but the tag filter)."""

    @staticmethod
    def list_machines_tagged(tags):
        return []


def test_require_project_names_the_missing_project_and_how_to_make_it(tmp_path):
    fake = FakeMaas().add("GET", "/1.0/projects/k8s", status=404, json=error(404, "Project not found"))
    with pytest.raises(errors.LxdNotFound) as info:
        lxd_client(fake, tmp_path, project="k8s").require_project()
    assert str(info.value) == ("LXD at %s has no project 'k8s': create it on the LXD host (`lxc project create k8s`) or name "
                               "one that `lxc project list` shows." % URL)


def test_read_host_reads_everything_of_a_usable_host(tmp_path):
    fake = healthy(FakeMaas())
    state = read_host(lxd_client(fake, tmp_path), bridge="br0")
    assert state.error is None
    assert (state.total_cores, state.total_memory, state.storage) == (8, 32 * 1024, {"default": 100 * GIB})


@pytest.mark.parametrize("missing, path, text", [
    ("project", "/1.0/projects/k8s", "has no project 'k8s'"),
    ("bridge", "/1.0/networks/br0", "has no network interface 'br0' to attach a bridged NIC to"),
])
def test_read_host_makes_a_missing_project_or_bridge_the_hosts_error(tmp_path, missing, path, text):
    fake = FakeMaas().add("GET", path, status=404, json=error(404, "not found"))
    state = read_host(lxd_client(healthy(fake, project="k8s"), tmp_path, project="k8s"), bridge="br0")
    assert isinstance(state.error, errors.LxdNotFound) and text in str(state.error)
    assert not [call for call in fake.calls if call.path in ("/1.0/resources", "/1.0/instances")]  # nothing read after it


def test_a_host_that_failed_earlier_in_the_run_is_not_asked_again(tmp_path):
    defaults = Defaults(client_cert="c", client_key="k")
    hosts = lxd_hosts(NoMachines(), [{"name": "dead", "host": "https://10.0.0.9:8443"}, {"name": "alive", "host": URL}], defaults)
    fake = healthy(FakeMaas())
    connected = []

    def connect(host):
        connected.append(host["name"])
        return lxd_client(fake, tmp_path)

    earlier = errors.LxdRetriesExhausted("Gave up on GET /1.0/instances/cp-1 at https://10.0.0.9:8443 after 6 attempt(s)",
                                         url="https://10.0.0.9:8443")
    candidates = lxd_candidates(NoMachines(), hosts, connect_host=connect, failed={"dead": earlier})
    assert connected == ["alive"]
    views = {host.name: host for host in candidates.hosts}
    assert views["alive"].healthy and not views["dead"].healthy
    assert views["dead"].health_reason == str(earlier)  # it names the URL: not prefixed with it again
    assert candidates.warnings == ["LXD host dead: %s" % earlier]


def test_lxd_requests_take_the_tasks_timeout_and_retries():
    assert (Defaults.from_options({"timeout": 7, "retries": 0}).timeout, Defaults.from_options({"retries": 0}).retries) == (7, 0)
    assert (Defaults.from_options({}).timeout, Defaults.from_options({}).retries) == (30, 5)


PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"


@pytest.mark.parametrize("value, says", [
    ({"host": "https://lxd1:8443", "client_key": PEM_KEY}, "lxd_hosts must be a list of LXD servers ({host, client_cert, "
                                                           "client_key, ...}), got a dict"),
    ([PEM_KEY], "lxd_hosts[0] must be a mapping, got a str"),
    ([{"host": "http://admin:pw@lxd1:8443"}], "lxd_hosts[0]: host 'http://***@lxd1:8443' must be an https:// URL"),
])
def test_a_wrong_lxd_hosts_value_is_described_not_repeated(value, says):
    with pytest.raises(LxdcpError) as info:
        host_entries(value)
    assert says in str(info.value) and "PRIVATE KEY" not in str(info.value) and "pw" not in str(info.value)
