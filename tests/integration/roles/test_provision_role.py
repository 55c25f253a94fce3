"""The provision role's input checks and defaults, through playbooks/control_plane.yml against maas-sim."""

from __future__ import annotations

from simharness import SimServer  # pylint: disable=import-error

from ansible_collections.lxdcp.maas.tests.integration.roles.maas_state import cluster_machines, machines_named, scenario_with_metal


def test_static_ip_on_a_bare_metal_worker_fails_before_any_write(cluster, maas, inventory):
    inv = inventory("mixip", {"mixip-cp-1": "10.10.0.81", "mixip-cp-2": "10.10.0.82"},
                    workers={"mixip-w-1": {"lxdcp_ip": "10.10.0.85"}, "mixip-w-2": {}})
    run = cluster.up(inv)
    assert not run.ok
    assert run.failures() == {"mixip-w-1": (
        'mixip-w-1: static IP "10.10.0.85" (provision_ip or lxdcp_ip) only applies to LXD VMs: lxdcp.maas.maas_lxd_vm has '
        "no static-IP support for bare-metal machines, which get their address from MAAS when they are deployed; remove "
        "lxdcp_ip from this host or set lxdcp_provisioning_mode to lxd")}
    assert run.requests == [] and run.writes == []
    assert machines_named(maas, ["mixip-cp-1", "mixip-cp-2", "mixip-w-1", "mixip-w-2"]) == []
    assert cluster_machines(maas, "mixip") == []


def test_an_unknown_provider_id_scheme_fails_before_any_request(cluster, maas, inventory):
    inv = inventory("pidx", {"pidx-cp-1": None}, lxdcp_vm_provider_id_scheme="capmaas")
    run = cluster.up(inv)
    assert not run.ok
    assert run.failures() == {"pidx-cp-1": (
        'pidx-cp-1: lxdcp_vm_provider_id_scheme "capmaas" must be maas-lxd (LXD VMs\' provider IDs '
        "maas-lxd:///<zone>/<system_id>) or maas (maas:///<zone>/<system_id>, as cluster-api-provider-maas writes them)")}
    assert run.requests == [] and run.writes == []
    assert machines_named(maas, ["pidx-cp-1"]) == []


def test_arguments_of_the_wrong_type_fail_as_ansible_validates_a_role_before_any_request(cluster, maas, inventory):
    # The roles' first task validates their argument specs (the playbooks import them with rolespec_validate: false).
    inv = inventory("argx", {"argx-cp-1": "10.10.0.91"}, provision_cores="many", deploy_api_port="https")
    run = cluster.up(inv)
    assert not run.ok
    failure = run.failures()["argx-cp-1"]
    assert failure.startswith("Validation of arguments failed:\n") and "deploy_api_port" in failure, failure
    assert run.requests == [] and run.writes == []

    # The deploy settings are checked first (before provisioning); with them right, the provision role's.
    inv["all"]["children"]["control_plane"]["vars"].pop("deploy_api_port")
    run = cluster.up(inv)
    failure = run.failures()["argx-cp-1"]
    # Ansible's own words (they differ between ansible-core versions after the argument's name).
    assert failure.startswith("Validation of arguments failed:\nargument 'provision_cores' is of type "), failure
    assert "\n" not in failure.split("\n", 1)[1], failure
    assert run.requests == [] and run.writes == []
    assert machines_named(maas, ["argx-cp-1"]) == []


def test_provisioning_mode_defaults_to_bare_metal(sim_factory, bind):
    sim = sim_factory(scenario=scenario_with_metal(2), timings=SimServer.FAST_TIMINGS)
    runner, maas = bind(sim)
    # No lxdcp_provisioning_mode anywhere: the roles' default applies.
    inv = {"all": {"vars": {"lxdcp_cluster": "iron"},
                   "children": {"control_plane": {"vars": {"provision_cores": 8, "provision_memory": "32G"},
                                                  "hosts": {"iron-1": {}, "iron-2": {}}}}}}
    run = runner.up(inv)
    assert run.ok, run
    assert "op=compose" not in " ".join(run.write_summary())
    plan = run.by_host("Plan the LXD VMs over zones and hosts")
    assert next(iter(plan.values()))["ansible_facts"]["provision_plan"] == {}
    machines = {m["hostname"]: m for m in cluster_machines(maas, "iron")}
    assert sorted(machines) == ["iron-1", "iron-2"]
    for machine in machines.values():
        assert machine["pod"] is None and machine["status_name"] == "Deployed"
    results = run.by_host("Compose the LXD VM on its planned host, or allocate the bare-metal machine, and wait until it is Ready")
    assert {name: result["machine"]["provider_id"] for name, result in results.items()} == {
        name: "maas:///%s/%s" % (machine["zone"]["name"], machine["system_id"]) for name, machine in machines.items()}

    run = runner.down(inv)
    assert run.ok, run
    left = machines_named(maas, ["iron-1", "iron-2"])
    assert len(left) == 2 and all(m["status_name"] == "Ready" and "lxdcp-cluster-iron" not in m["tag_names"] for m in left)
