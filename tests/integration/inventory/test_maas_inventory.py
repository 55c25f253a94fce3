"""The lxdcp.maas.maas inventory plugin with ansible-inventory against maas-sim, after the main job (conftest ``site``)."""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils.machines import provider_id
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.api import MaasClient
from ansible_collections.lxdcp.maas.tests.integration.inventory.conftest import DEMO_IPS, WORKER
from ansible_collections.lxdcp.maas.tests.integration.roles.maas_state import record_ips

ALL = sorted(list(DEMO_IPS) + [WORKER])


def machines_read(run):
    """The run's MAAS API requests other than the one machines read (expected: none)."""
    return [r for r in run.api_requests() if r[:2] != ("GET", "/MAAS/api/2.0/machines/")]


def test_graph_after_the_main_job_shows_cluster_role_and_zone_groups(site, inventory):
    # The acceptance case: a file holding only the plugin's name, auth from the environment.
    graph = inventory("plugin: lxdcp.maas.maas\n", "--graph")
    assert graph.rc == 0, graph
    for group in ("@cluster_demo:", "@control_plane:", "@workers:", "@zone_az1:", "@zone_az2:", "@zone_az3:"):
        assert group in graph.stdout, graph.stdout

    run = inventory("plugin: lxdcp.maas.maas\n")
    assert run.rc == 0, run
    groups = run.groups()
    assert groups["cluster_demo"] == ALL
    assert groups["control_plane"] == sorted(DEMO_IPS)
    assert groups["workers"] == [WORKER]
    assert sorted(h for z in ("zone_az1", "zone_az2", "zone_az3") for h in groups[z]) == ALL
    assert groups["zone_az1"] == [WORKER]

    client = MaasClient(site.url, site.api_key)
    machines = {m["hostname"]: m for m in client.list_machines(tags=["lxdcp-cluster-demo"])}
    for name, ip in DEMO_IPS.items():
        hostvars = run.hostvars(name)
        machine = machines[name]
        assert hostvars["ansible_host"] == ip
        assert hostvars["maas_provider_id"] == provider_id(machine)
        assert hostvars["maas_zone"] == machine["zone"]["name"]
        assert hostvars["maas_vm_host"] == machine["pod"]["name"]
        assert hostvars["maas_status"] == "Deployed"
        assert (hostvars["maas_cores"], hostvars["maas_memory"]) == (2, 4096)
        assert (hostvars["lxdcp_cluster"], hostvars["lxdcp_role"]) == ("demo", "control-plane")
        assert name in groups["zone_" + machine["zone"]["name"]]
    # One rule for a machine's address (filter lxdcp.maas.preferred_address): the deploy role's record holds the
    # control plane's ansible_host.
    assert record_ips(client, "demo-api.maas") == sorted(run.hostvars(name)["ansible_host"] for name in DEMO_IPS)
    worker = run.hostvars(WORKER)
    assert worker["lxdcp_role"] == "worker" and worker["maas_vm_host"] is None and worker["maas_lxd_vm"] is False
    assert worker["maas_provider_id"] == provider_id(machines[WORKER])
    assert worker["ansible_host"] in machines[WORKER]["ip_addresses"]

    # One request per refresh: the machines read, filtered by MAAS on the ownership tag; nothing else, no write.
    assert run.api_requests() == [("GET", "/MAAS/api/2.0/machines/", None)]
    assert not [r for r in run.requests if r["write"]]


def test_filters_are_applied_by_maas_in_the_one_request(inventory):
    run = inventory({"plugin": "lxdcp.maas.maas", "clusters": ["demo"], "zones": ["az1", "az2"], "status": ["deployed"]})
    assert run.rc == 0, run
    assert len(run.api_requests()) == 1 and machines_read(run) == [], run.requests
    hosts = sorted(run.data["_meta"]["hostvars"])
    assert len(hosts) == 2 and WORKER in hosts
    assert all(run.hostvars(h)["maas_zone"] in ("az1", "az2") for h in hosts)

    # A cluster MAAS has no tag for: no machine, not an error.
    run = inventory({"plugin": "lxdcp.maas.maas", "clusters": ["nothere"]})
    assert run.rc == 0, run
    assert run.data["_meta"]["hostvars"] == {}


def test_constructed_options(inventory):
    config = {
        "plugin": "lxdcp.maas.maas",
        "compose": {"node_id": "maas_provider_id", "big": "maas_cores >= 4"},
        "groups": {"vms": "maas_lxd_vm"},
        "keyed_groups": [{"key": "maas_status", "prefix": "status"}, {"key": "maas_vm_host", "prefix": "host", "default_value": "none"}],
        "strict": True,
    }
    run = inventory(config)
    assert run.rc == 0, run
    groups = run.groups()
    assert groups["vms"] == sorted(DEMO_IPS)
    assert groups["status_Deployed"] == ALL
    assert sorted(h for name, hosts in groups.items() if name.startswith("host_lxd_") for h in hosts) == sorted(DEMO_IPS)
    assert groups["host_none"] == [WORKER]  # bare metal: no VM host
    for name in ALL:
        hostvars = run.hostvars(name)
        assert hostvars["node_id"] == hostvars["maas_provider_id"]
        assert hostvars["big"] is (hostvars["maas_cores"] >= 4)

    # strict: an expression on a variable the hosts do not have fails the source, naming it.
    run = inventory(dict(config, compose={"x": "no_such_variable + 1"}))
    assert run.rc != 0
    assert "no_such_variable" in run.error, run


def test_cache_second_run_sends_no_request(inventory, tmp_path):
    config = {"plugin": "lxdcp.maas.maas", "cache": True, "cache_plugin": "ansible.builtin.jsonfile",
              "cache_connection": str(tmp_path / "cache"), "cache_timeout": 3600}
    first = inventory(config)
    assert first.rc == 0, first
    assert first.api_requests() == [("GET", "/MAAS/api/2.0/machines/", None)]

    second = inventory(config)
    assert second.rc == 0, second
    assert second.requests == []
    assert second.data == first.data

    # Other filters in the same file: the cached answer of the first query is not used.
    third = inventory(dict(config, zones=["az1"]))
    assert third.rc == 0, third
    assert len(third.api_requests()) == 1
    assert sorted(third.data["_meta"]["hostvars"]) == [WORKER]

    # --flush-cache reads MAAS again.
    flushed = inventory(config, "--list", "--flush-cache")
    assert flushed.rc == 0, flushed
    assert len(flushed.api_requests()) == 1
    assert flushed.data == first.data


def test_bad_config_fails_with_the_reason(inventory, sim_factory):
    cases = [
        ({"plugin": "lxdcp.maas.maas", "zone": ["az1"]}, {}, "unknown option 'zone' (did you mean 'zones'?)"),
        ({"plugin": "lxdcp.maas.maas", "clusters": ["bad name"]}, {}, "cluster 'bad name' may only contain letters"),
        ({"plugin": "lxdcp.maas.maas", "preferred_subnets": ["10.10.0.1/24"]}, {}, "has host bits set"),
        ({"plugin": "lxdcp.maas.maas", "status": ["running"]}, {}, "Invalid value ['running'] for config 'status'"),
        ({"plugin": "lxdcp.maas.maas", "zones": ["az9"]}, {}, "No such zone(s): az9"),
        ({"plugin": "lxdcp.maas.maas"}, {"MAAS_API_KEY": "lxdcp:sim-token:wrong-secret"}, "MAAS could not be read"),
        ({"plugin": "lxdcp.maas.maas"}, {"MAAS_API_KEY": "nocolons"}, "api_key is malformed"),
        ({"plugin": "lxdcp.maas.maas", "retries": 0, "url": "http://127.0.0.1:9/MAAS"}, {}, "MAAS could not be read"),
    ]
    for config, env, message in cases:
        run = inventory(config, env=env)
        assert run.rc != 0, (config, run)
        assert message in run.error, (config, run.error)
        assert run.api_requests() in ([], [("GET", "/MAAS/api/2.0/machines/", None)]), run.requests
    # The rejected key: a 401 named as such, and the key's secret is not shown.
    run = inventory({"plugin": "lxdcp.maas.maas"}, env={"MAAS_API_KEY": "lxdcp:sim-token:wrong-secret"})
    assert "401" in run.error and "wrong-secret" not in run.stderr, run.error


def test_file_name_must_end_in_maas_yml(inventory):
    run = inventory("plugin: lxdcp.maas.maas\n", filename="lab.yml")
    assert run.rc != 0
    assert run.requests == []
