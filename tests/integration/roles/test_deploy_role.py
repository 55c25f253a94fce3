"""The deploy role against maas-sim: the cloud-init user data it renders, and the API endpoint's DNS record.

User data is read back from maas-sim's state (it stores ``user_data`` as the deploy request sent it,
base64, as MAAS does); the DNS record through the MAAS API.
"""

from __future__ import annotations

import base64
import copy

import yaml

from simharness import SimServer, default_scenario_path  # pylint: disable=import-error

from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import sim_machines
from ansible_collections.lxdcp.maas.tests.integration.roles.maas_state import cluster_machines, record_ips, scenario_with_metal

SMALL = {"provision_cores": 1, "provision_memory": "2G", "provision_disk_size": "10G"}
LOOKUP_TASK = "Look up the machines the provision role did not return in this play (one filtered read)"


def user_data(sim, hostname):
    """``(cloud-config dict, {KEY: value} of /etc/lxdcp/cluster.env)`` of the machine's deployment."""
    (machine,) = sim_machines(sim, hostname)
    text = base64.b64decode(machine["user_data"]).decode("utf-8")
    assert text.startswith("#cloud-config\n"), text
    config = yaml.safe_load(text)
    (env_file,) = [f for f in config["write_files"] if f["path"] == "/etc/lxdcp/cluster.env"]
    env = dict(line.split("=", 1) for line in env_file["content"].splitlines() if line)
    return config, env


def role_playbook(tmp_path, role):
    """A playbook running one role of the collection over the cluster (what control_plane.yml does in one go)."""
    path = tmp_path / ("%s.yml" % role)
    play = {"name": role, "hosts": "control_plane:workers", "gather_facts": False, "any_errors_fatal": True,
            "roles": [{"role": "lxdcp.maas.%s" % role}]}
    path.write_text(yaml.safe_dump([play], sort_keys=False), encoding="utf-8")
    return str(path)


def test_user_data_carries_the_cluster_env_and_the_api_port(sim_factory, bind, inventory):
    sim = sim_factory(scenario=scenario_with_metal(1), timings=SimServer.FAST_TIMINGS)
    runner, _maas = bind(sim)
    inv = inventory("ud", {"ud-cp-1": "10.10.0.81"}, workers={"ud-w-1": {}}, **SMALL)
    inv["all"]["vars"].update(lxdcp_api_port=7443, lxdcp_api_dns_name="k8s-ud")
    run = runner.up(inv)
    assert run.ok, run

    config, env = user_data(sim, "ud-cp-1")
    assert env == {"LXDCP_CLUSTER": "ud", "LXDCP_NODE": "ud-cp-1", "LXDCP_CONTROL_PLANE": "true",
                   "LXDCP_API_ENDPOINT": "k8s-ud.maas", "LXDCP_API_PORT": "7443"}
    assert config["runcmd"] == [["sh", "-c", "echo 'lxdcp.maas: ud-cp-1 of ud deployed' > /dev/console"]]
    _config, env = user_data(sim, "ud-w-1")
    assert env["LXDCP_NODE"] == "ud-w-1" and env["LXDCP_CONTROL_PLANE"] == "false" and env["LXDCP_API_PORT"] == "7443"

    # deploy_user_data replaces the template; a deployed machine is not redeployed for it.
    run = runner.up(inv, extra_vars={"deploy_user_data": "#cloud-config\n{}"})
    assert run.ok and run.writes == [], run.write_summary()
    assert user_data(sim, "ud-cp-1")[1]["LXDCP_NODE"] == "ud-cp-1"


def test_the_dns_record_follows_the_cluster_from_three_to_five_nodes(cluster, maas, inventory):
    nodes = {"grow-cp-%d" % i: "10.10.0.%d" % (40 + i) for i in range(1, 6)}
    three = dict(list(nodes.items())[:3])
    run = cluster.up(inventory("grow", three, **SMALL))
    assert run.ok, run
    assert record_ips(maas, "grow-api.maas") == sorted(three.values())
    # The provision role ran in the play: the deploy role does not look the machines up again.
    assert all("skip_reason" in result for result in run.by_host(LOOKUP_TASK).values()), run.by_host(LOOKUP_TASK)

    run = cluster.up(inventory("grow", nodes, **SMALL))
    assert run.ok, run
    assert record_ips(maas, "grow-api.maas") == sorted(nodes.values())
    assert [w for w in run.write_summary() if "/dnsresources/" in w] == ["PUT /MAAS/api/2.0/dnsresources/%d/" % (
        maas.get("dnsresources/", params={"fqdn": "grow-api.maas"})[0]["id"])]
    summary = next(iter(run.by_host("Show the control plane and its API endpoint").values()))["msg"]
    assert all(any(line.startswith(name + " ") for line in summary) for name in nodes)


def two_subnet_scenario():
    """The default scenario with a second subnet, 10.20.0.0/24, on the same VLAN (machines can link to both)."""
    with open(default_scenario_path(), encoding="utf-8") as handle:
        scenario = copy.deepcopy(yaml.safe_load(handle))
    scenario["subnets"].append({"cidr": "10.20.0.0/24", "name": "10.20.0.0/24", "fabric": "fabric-0", "vid": 0,
                                "gateway_ip": "10.20.0.1", "dns_servers": []})
    return scenario


def test_preferred_subnet_addresses_go_into_the_record_in_order_of_preference(sim_factory, bind, inventory, tmp_path):
    sim = sim_factory(scenario=two_subnet_scenario(), timings=SimServer.FAST_TIMINGS)
    runner, maas = bind(sim)
    inv = inventory("pref", {"pref-cp-1": "10.10.0.161", "pref-cp-2": "10.10.0.162", "pref-cp-3": "10.10.0.163"}, **SMALL)
    assert runner.run(role_playbook(tmp_path, "provision"), inv).ok
    # A second network on the first two machines: each gets a static address in 10.20.0.0/24 too.
    subnet = next(s for s in maas.list_subnets() if s["cidr"] == "10.20.0.0/24")
    machines = {m["hostname"]: m for m in cluster_machines(maas, "pref")}
    for name, ip in (("pref-cp-1", "10.20.0.61"), ("pref-cp-2", "10.20.0.62")):
        machine = machines[name]
        maas.link_subnet(machine["system_id"], machine["interface_set"][0]["id"],
                         {"mode": "STATIC", "subnet": subnet["id"], "ip_address": ip})
    deploy = role_playbook(tmp_path, "deploy")

    run = runner.run(deploy, inv, extra_vars={"deploy_preferred_subnets": ["10.20.0.0/24", "10.10.0.0/24"]})
    assert run.ok, run
    # The first preferred subnet a machine has an address in wins; pref-cp-3 has none in 10.20.0.0/24.
    assert record_ips(maas, "pref-api.maas") == ["10.10.0.163", "10.20.0.61", "10.20.0.62"]
    for machine in cluster_machines(maas, "pref"):
        assert machine["status_name"] == "Deployed"

    run = runner.run(deploy, inv, extra_vars={"deploy_preferred_subnets": ["10.10.0.0/24", "10.20.0.0/24"]})
    assert run.ok, run
    assert record_ips(maas, "pref-api.maas") == ["10.10.0.161", "10.10.0.162", "10.10.0.163"]


def machine_reads(run):
    """The ``GET .../machines/`` requests of the run."""
    return [e for e in run.requests if e["method"] == "GET" and e["path"].endswith("/machines/")]


def test_deploy_alone_stops_before_any_write_at_a_machine_the_provision_role_did_not_create(
        cluster, maas, inventory, tmp_path):
    inv = inventory("alone", {"alone-cp-1": "10.10.0.121"}, **SMALL)
    assert cluster.run(role_playbook(tmp_path, "provision"), inv).ok
    deploy = role_playbook(tmp_path, "deploy")

    # alone-cp-2 was never provisioned: the role stops there, not in maas_lxd_vm's placement, and no machine is deployed.
    run = cluster.run(deploy, inventory("alone", {"alone-cp-1": "10.10.0.121", "alone-cp-2": "10.10.0.122"}, **SMALL))
    assert not run.ok
    assert run.failures() == {"alone-cp-2": (
        "alone-cp-2 is not a machine in MAAS, so it is not a machine of cluster alone; run the provision role first "
        "(playbooks/control_plane.yml runs both), or check lxdcp_cluster and lxdcp_hostname.")}, run.failures()
    assert run.writes == [], run.write_summary()
    assert len(machine_reads(run)) == 1 and not [e for e in run.requests if "/vm-hosts/" in e["path"]], run.requests
    assert [m["status_name"] for m in cluster_machines(maas, "alone")] == ["Ready"]

    # Another cluster's machine of that name is refused the same way.
    run = cluster.run(deploy, inventory("other", {"alone-cp-1": "10.10.0.121"}, **SMALL))
    assert run.failures() == {"alone-cp-1": (
        "alone-cp-1 belongs to cluster alone, not other, so it is not a machine of cluster other; run the provision role "
        "first (playbooks/control_plane.yml runs both), or check lxdcp_cluster and lxdcp_hostname.")}, run.failures()
    assert run.writes == [], run.write_summary()

    # The cluster's own machine: one read finds it, and it is deployed.
    run = cluster.run(deploy, inv)
    assert run.ok, run
    assert next(iter(run.by_host(LOOKUP_TASK).values()))["machines"][0]["hostname"] == "alone-cp-1"
    assert [m["status_name"] for m in cluster_machines(maas, "alone")] == ["Deployed"]
