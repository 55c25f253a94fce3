"""The lxdcp.maas.maas inventory plugin against a scripted MAAS (HTTP faked at the transport): the one request it sends,
its filters, the inventory it builds, and its errors."""

from __future__ import annotations


import pytest
from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader

from ansible_collections.lxdcp.maas.plugins.inventory import maas as plugin_module
from ansible_collections.lxdcp.maas.tests.unit.plugins.fakehttp import API_KEY, BASE, SECRET, FakeMaas
from ansible_collections.lxdcp.maas.tests.unit.plugins.plugindocs import register_options
from ansible_collections.lxdcp.maas.tests.unit.plugins.maasdata import interface, link, machine, vm_host

TAGS = ("lxdcp-managed", "lxdcp-cluster-demo")
NAME = "lxdcp.maas.maas"


register_options("inventory", NAME, plugin_module.DOCUMENTATION)


def load():
    """The plugin as the loader gives it."""
    plugin = plugin_module.InventoryModule()
    plugin._load_name = NAME  # pylint: disable=protected-access
    plugin._redirected_names = [NAME]  # pylint: disable=protected-access
    return plugin


def vm(system_id, hostname, ip, zone_name, tags=TAGS):
    return machine(system_id, hostname, status="Deployed", host=vm_host(1, "lxd-%s-a" % zone_name), zone_name=zone_name,
                   tags=tags, interfaces=[interface(1, system_id=system_id, links=[link(11, "static", ip)])])


MACHINES = [vm("a1", "demo-cp-1", "10.10.0.101", "az1"), vm("a2", "demo-cp-2", "10.10.0.102", "az2"),
            vm("w1", "demo-w-1", "10.10.0.150", "az3", tags=TAGS + ("lxdcp-worker",))]


@pytest.fixture(name="parse")
def fixture_parse(monkeypatch, tmp_path):
    """``parse(fake, text)``: the plugin parses a ``lab.maas.yml`` holding ``text``; returns the InventoryData."""
    monkeypatch.setenv("MAAS_URL", BASE)
    monkeypatch.setenv("MAAS_API_KEY", API_KEY)

    def parse(fake, text, name="lab.maas.yml"):
        monkeypatch.setattr(plugin_module.InventoryModule, "client_class", staticmethod(fake.client))
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        plugin = load()
        assert plugin.verify_file(str(path))
        inventory = InventoryData()
        plugin.parse(inventory, DataLoader(), str(path), cache=False)
        return inventory

    return parse


def test_one_filtered_request_builds_hosts_and_groups(parse):
    fake = FakeMaas().add("GET", "machines/", json=MACHINES)
    inventory = parse(fake, "plugin: lxdcp.maas.maas\n")
    assert [(c.method, c.path, c.op) for c in fake.calls] == [("GET", "machines/", None)]
    assert fake.calls[0].query == {"tags": ["lxdcp-managed"]}
    groups = {name: sorted(h.name for h in group.get_hosts()) for name, group in inventory.groups.items()}
    assert groups["cluster_demo"] == ["demo-cp-1", "demo-cp-2", "demo-w-1"]
    assert groups["control_plane"] == ["demo-cp-1", "demo-cp-2"]
    assert groups["workers"] == ["demo-w-1"]
    assert groups["zone_az3"] == ["demo-w-1"]
    assert inventory.get_host("demo-cp-2").vars["ansible_host"] == "10.10.0.102"


def test_filters_go_to_maas(parse):
    fake = FakeMaas().add("GET", "machines/", json=MACHINES[:1])
    parse(fake, "plugin: lxdcp.maas.maas\nclusters: [demo]\nzones: [az1, az2]\npool: [default]\nstatus: [deployed]\ntags: [k8s]\n")
    assert [c.query for c in fake.calls] == [{"tags": ["lxdcp-cluster-demo", "lxdcp-managed", "k8s"], "zone": ["az1", "az2"],
                                              "pool": ["default"], "status": ["deployed"]}]


@pytest.mark.parametrize("text, message", [
    ("plugin: lxdcp.maas.maas\nzone: [az1]\n", "unknown option 'zone' (did you mean 'zones'?)"),
    ("plugin: lxdcp.maas.maas\nclusters: ['a b']\n", "cluster 'a b' may only contain letters"),
    ("plugin: lxdcp.maas.maas\napi_key: broken\n", "api_key is malformed"),
    ("plugin: lxdcp.maas.maas\nstatus: [running]\n", "Invalid value ['running'] for config 'status'"),
    ("plugin: lxdcp.maas.maas\nurl: ftp://maas\n", "url 'ftp://maas' is not an absolute http(s) URL"),
])
def test_bad_config_fails_before_any_request(parse, text, message):
    fake = FakeMaas()
    with pytest.raises(AnsibleParserError) as caught:
        parse(fake, text)
    assert message in str(caught.value)
    assert fake.calls == []


def test_maas_errors_fail_the_source_without_the_secret(parse):
    fake = FakeMaas().add("GET", "machines/", status=401, text="Authorization Error: 'Invalid access token: tk-token'")
    with pytest.raises(AnsibleParserError) as caught:
        parse(fake, "plugin: lxdcp.maas.maas\n")
    assert "MAAS could not be read" in str(caught.value) and "401" in str(caught.value)
    assert SECRET not in str(caught.value)
    fake = FakeMaas().add("GET", "machines/", status=400, json={"zone": ["No such zone(s): az9."]})
    with pytest.raises(AnsibleParserError, match=r"No such zone\(s\): az9"):
        parse(fake, "plugin: lxdcp.maas.maas\nzones: [az9]\n")


def test_only_maas_yml_files(tmp_path):
    plugin = load()
    for name, ok in (("lab.maas.yml", True), ("maas.yaml", True), ("lab.yml", False)):
        (tmp_path / name).write_text("plugin: lxdcp.maas.maas\n", encoding="utf-8")
        assert plugin.verify_file(str(tmp_path / name)) is ok
