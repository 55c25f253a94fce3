"""The main job in direct mode: playbooks/control_plane.yml and teardown.yml through ansible-playbook against maas-sim 4.0
and real VM-capable LXD daemons; the same inventory on maas-sim 3.6 composes on VM hosts (lxd_via: auto)."""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils.maas.api import MaasClient
from ansible_collections.lxdcp.maas.tests.integration.roles.maas_state import problems_of_cluster, problems_of_gone_cluster, reservations
from ansible_collections.lxdcp.maas.tests.integration.roles.runner import ClusterRunner

NODES = {"dm-cp-1": "10.10.0.111", "dm-cp-2": "10.10.0.112", "dm-cp-3": "10.10.0.113"}


def inventory(entries, cluster="dm", nodes=None):
    """Three control-plane VMs (2 cores, 4 GiB, 20 GB) over zones az1-az3 with static IPs; direct mode's LXD hosts."""
    return {"all": {
        "vars": {"lxdcp_cluster": cluster, "lxdcp_lxd_hosts": entries},
        "children": {
            "control_plane": {
                "vars": {"lxdcp_provisioning_mode": "lxd", "provision_cores": 2, "provision_memory": "4G",
                         "provision_disk_size": "20G", "provision_zones": ["az1", "az2", "az3"]},
                "hosts": {name: {"lxdcp_ip": ip} for name, ip in (nodes or NODES).items()},
            },
            "workers": {"hosts": {}},
        },
    }}


def test_control_plane_rerun_check_and_teardown_in_direct_mode(direct, tmp_path):
    runner, maas = ClusterRunner(direct.sim, tmp_path), MaasClient(direct.sim.url, direct.sim.api_key)
    inv = inventory(direct.entries)
    baseline = reservations(maas)

    mark = direct.mark()
    checked = runner.up(inv, check=True)
    assert checked.ok, checked.failures()
    assert checked.writes == [] and direct.lxd_writes(mark) == []

    up = runner.up(inv)
    assert up.ok, (up.failures(), up.stdout[-3000:])
    assert problems_of_cluster(maas, "dm", NODES, baseline) == []
    composed = up.by_host("Compose the LXD VM on its planned host, or allocate the bare-metal machine, and wait until it is Ready")
    hosts = {name: result["machine"]["vm_host"]["name"] for name, result in composed.items()}
    assert sorted(hosts.values()) == sorted(direct.hosts)  # one VM per LXD host (one per zone)
    assert {host: [name for _project, name in names] for host, names in direct.instances().items()} == \
        {host: [name] for name, host in hosts.items()}
    # --check predicted every change the real run made.
    assert checked.changed == up.changed

    mark = direct.mark()
    again = runner.up(inv)
    assert again.ok and set(again.changed.values()) == {0}, again.changed
    assert again.writes == [], again.write_summary()
    assert direct.lxd_writes(mark) == []

    mark = direct.mark()
    checked_down = runner.down(inv, check=True)
    assert checked_down.ok and checked_down.writes == [] and direct.lxd_writes(mark) == []
    down = runner.down(inv)
    assert down.ok, down.failures()
    assert checked_down.changed == down.changed
    assert problems_of_gone_cluster(maas, "dm", NODES, baseline) == []
    assert not any(direct.instances().values()) and not any(direct.trusted().values())


def test_auto_composes_on_maas_36_and_creates_directly_on_maas_40_with_one_inventory(direct, sim_factory, tmp_path):
    inv = inventory(direct.entries, cluster="same", nodes={"same-cp-1": "10.10.0.121"})
    sim36 = sim_factory(timings={"commissioning": 0.2, "deploying": 0.3, "releasing": 0.1, "disk_erasing": 0.2})
    (tmp_path / "36").mkdir()
    (tmp_path / "40").mkdir()
    on36 = ClusterRunner(sim36, tmp_path / "36").up(inv)
    assert on36.ok, on36.failures()
    made36 = next(iter(on36.by_host("wait until it is Ready").values()))
    assert made36["machine"]["vm_host"]["id"] is not None  # a MAAS VM host: composed
    assert any(w["op"] == "compose" for w in on36.writes)

    mark = direct.mark()
    on40 = ClusterRunner(direct.sim, tmp_path / "40").up(inv)
    assert on40.ok, on40.failures()
    made40 = next(iter(on40.by_host("wait until it is Ready").values()))
    assert made40["machine"]["vm_host"]["id"] is None and made40["machine"]["vm_host"]["name"] in direct.hosts
    assert not any(w["op"] == "compose" for w in on40.writes)
    assert any(w.startswith("POST") and w.endswith("/1.0/instances?project=default") for w in direct.lxd_writes(mark))
