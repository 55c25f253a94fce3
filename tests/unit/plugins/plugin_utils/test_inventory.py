"""The pure parts of the lxdcp.maas.maas inventory (plugin_utils/inventory.py) and the helpers it reuses."""

from __future__ import annotations

import json

import pytest
import yaml

from ansible_collections.lxdcp.maas.plugins.inventory import maas as plugin
from ansible_collections.lxdcp.maas.plugins.module_utils.machines import preferred_address, provider_id
from ansible_collections.lxdcp.maas.plugins.module_utils.ownership import CONTROL_PLANE, WORKER, WORKER_TAG, machine_role
from ansible_collections.lxdcp.maas.plugins.modules.maas_machine_info import STATUSES
from ansible_collections.lxdcp.maas.plugins.plugin_utils.inventory import (
    MACHINE_FIELDS,
    ConfigError,
    Query,
    group_name,
    inventory_hosts,
    is_config_name,
    trim,
    unknown_options,
)
from ansible_collections.lxdcp.maas.tests.unit.plugins.maasdata import interface, link, machine, subnet, vm_host

HOST = vm_host(1, "lxd-az1-a")
OTHER_NET = subnet("10.20.0.0/24", subnet_id=2, gateway="10.20.0.1")


def vm(system_id, hostname, ip="10.10.0.101", zone_name="az1", tags=("lxdcp-managed", "lxdcp-cluster-demo"), **extra):
    links = [link(11, "static", ip)] if ip else []
    return machine(system_id, hostname, status="Deployed", host=HOST, zone_name=zone_name, tags=tags,
                   interfaces=[interface(1, system_id=system_id, links=links)], **extra)


# -- config -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, ok", [
    ("/inv/lab.maas.yml", True), ("/inv/lab.maas.yaml", True), ("maas.yml", True), ("/x/maas.yaml", True),
    ("/inv/lab.yml", False), ("/inv/labmaas.yml", False), ("/inv/lab.maas.json", False), ("/inv/maas.yml.bak", False),
])
def test_config_file_names(path, ok):
    assert is_config_name(path) is ok


def test_unknown_options_name_the_closest_option():
    known = {"plugin": 1, "zones": 1, "clusters": 1, "pool": 1}
    assert unknown_options({"plugin": "x", "zones": []}, known) is None
    assert unknown_options({"plugin": "x", "zone": []}, known) == (
        "unknown option 'zone' (did you mean 'zones'?); the options are clusters, plugin, pool, zones")
    assert unknown_options({"cluster": "a", "qqq": 1}, known).startswith(
        "unknown options 'cluster' (did you mean 'clusters'?), 'qqq'; ")


def test_documented_status_choices_are_those_of_maas_machine_info():
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert doc["options"]["status"]["choices"] == STATUSES
    yaml.safe_load(plugin.EXAMPLES)


# -- the query ----------------------------------------------------------------------------------


def test_one_cluster_is_filtered_by_maas_on_its_tags():
    query = Query(clusters=["demo"], zones=["az1"], pool=["default"], tags=["k8s"], status=["deployed"])
    assert query.tags == ["lxdcp-cluster-demo", "lxdcp-managed", "k8s"]
    assert query.filters == {"zone": ["az1"], "pool": ["default"], "status": ["deployed"]}
    assert json.loads(json.dumps(query.key())) == query.key()


def test_several_or_all_clusters_are_filtered_on_the_managed_tag():
    assert Query(clusters=["a", "b"]).tags == ["lxdcp-managed"]
    assert Query().tags == ["lxdcp-managed"]
    assert Query().filters == {}


@pytest.mark.parametrize("kwargs, message", [
    (dict(clusters=["bad name"]), "cluster 'bad name' may only contain letters"),
    (dict(tags=["a b"]), "tag 'a b' is not a valid MAAS tag name"),
    (dict(preferred_subnets=["10.10.0.1/24"]), "has host bits set"),
    (dict(preferred_subnets=["10.10.0.0"]), "is not a CIDR"),
])
def test_bad_filters_are_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        Query(**kwargs)


def test_selects_only_owned_machines_of_the_clusters():
    demo = vm("a1", "demo-cp-1")
    other = vm("b1", "other-cp-1", tags=("lxdcp-managed", "lxdcp-cluster-other"))
    half = vm("c1", "half-1", tags=("lxdcp-cluster-demo",))  # tagging interrupted: not in the inventory
    managed_only = vm("d1", "loose-1", tags=("lxdcp-managed",))
    machines = [demo, other, half, managed_only]
    assert [h.name for h in inventory_hosts(machines, Query())] == ["demo-cp-1", "other-cp-1"]
    assert [h.name for h in inventory_hosts(machines, Query(clusters=["other"]))] == ["other-cp-1"]
    assert [h.name for h in inventory_hosts(machines, Query(clusters=["other", "demo"]))] == ["demo-cp-1", "other-cp-1"]


# -- hosts, groups, variables -------------------------------------------------------------------


def test_groups_per_cluster_role_and_zone():
    worker = machine("w1", "demo-w-1", status="Deployed", zone_name="az2",
                     tags=("lxdcp-managed", "lxdcp-cluster-demo", WORKER_TAG),
                     interfaces=[interface(2, system_id="w1", links=[link(12, "auto", "10.10.0.200")])])
    both = vm("s1", "shared-1", zone_name="my-zone", tags=("lxdcp-managed", "lxdcp-cluster-b-1", "lxdcp-cluster-a"))
    hosts = {h.name: h for h in inventory_hosts([vm("a1", "demo-cp-1"), worker, both], Query())}
    assert hosts["demo-cp-1"].groups == ["cluster_demo", "control_plane", "zone_az1"]
    assert hosts["demo-w-1"].groups == ["cluster_demo", "workers", "zone_az2"]
    assert hosts["shared-1"].groups == ["cluster_a", "cluster_b_1", "control_plane", "zone_my_zone"]
    assert hosts["shared-1"].variables["lxdcp_cluster"] == "a"
    # Asked for one of its clusters: only that cluster's group.
    (shared,) = inventory_hosts([both], Query(clusters=["b-1"]))
    assert shared.groups == ["cluster_b_1", "control_plane", "zone_my_zone"]
    assert shared.variables["lxdcp_cluster"] == "b-1"
    assert group_name("zone_", "a.b-c") == "zone_a_b_c"


def test_role_is_the_worker_tag():
    assert machine_role({"tag_names": [WORKER_TAG]}) == WORKER
    assert machine_role({"tag_names": ["lxdcp-managed"]}) == CONTROL_PLANE
    assert machine_role({}) == CONTROL_PLANE


def test_host_variables():
    data = vm("a1", "demo-cp-1", cores=4, memory=8192, osystem="ubuntu", distro_series="noble")
    (host,) = inventory_hosts([data], Query())
    assert host.variables == dict(
        ansible_host="10.10.0.101", lxdcp_cluster="demo", lxdcp_role="control-plane", maas_system_id="a1",
        maas_hostname="demo-cp-1", maas_fqdn="demo-cp-1.maas", maas_provider_id=provider_id(data), maas_zone="az1",
        maas_pool="default", maas_domain="maas", maas_vm_host="lxd-az1-a", maas_lxd_vm=True, maas_status="Deployed",
        maas_power_state="off", maas_cores=4, maas_memory=8192, maas_tags=["lxdcp-managed", "lxdcp-cluster-demo"],
        maas_ip_addresses=["10.10.0.101"], maas_osystem="ubuntu", maas_distro_series="noble",
    )
    # No address at all: no ansible_host (Ansible then uses the host name).
    (host,) = inventory_hosts([vm("a2", "demo-cp-2", ip=None)], Query())
    assert "ansible_host" not in host.variables


def test_provider_ids_as_the_roles_wrote_them():
    data = vm("a1", "demo-cp-1")
    assert inventory_hosts([data], Query())[0].variables["maas_provider_id"] == "maas-lxd:///az1/a1"
    assert inventory_hosts([data], Query(vm_provider_id_scheme="maas"))[0].variables["maas_provider_id"] == "maas:///az1/a1"


def test_the_cache_keeps_what_the_hosts_are_made_of():
    data = vm("a1", "demo-cp-1")
    trimmed = trim(data)
    assert set(trimmed) <= set(MACHINE_FIELDS) and "physicalblockdevice_set" not in trimmed
    roundtrip = json.loads(json.dumps(trimmed))
    assert [h.variables for h in inventory_hosts([roundtrip], Query())] == [h.variables for h in inventory_hosts([data], Query())]


# -- the address ------------------------------------------------------------------------------------


def test_preferred_address_order():
    links = [link(11, "auto", "10.10.0.50"), link(12, "static", "10.10.0.101"), link(13, "auto", "10.20.0.7", OTHER_NET)]
    data = machine("a1", "cp-1", interfaces=[interface(1, system_id="a1", links=links)])
    assert preferred_address(data) == "10.10.0.101"  # the static (sticky) one
    assert preferred_address(data, ["10.20.0.0/24"]) == "10.20.0.7"
    assert preferred_address(data, ["192.168.0.0/24", "10.10.0.0/24"]) == "10.10.0.50"  # first link on that subnet
    assert preferred_address(data, ["192.168.0.0/24"]) == "10.10.0.101"
    no_static = machine("a2", "cp-2", interfaces=[interface(1, system_id="a2", links=[link(11, "auto", "10.10.0.9")])])
    assert preferred_address(no_static) == "10.10.0.9"
    assert preferred_address(machine("a3", "cp-3", interfaces=[])) is None
    (host,) = inventory_hosts([dict(data, tag_names=["lxdcp-managed", "lxdcp-cluster-x"])], Query(preferred_subnets=["10.20.0.0/24"]))
    assert host.variables["ansible_host"] == "10.20.0.7"
