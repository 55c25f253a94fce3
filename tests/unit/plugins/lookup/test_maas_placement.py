"""The maas_placement lookup against a scripted MAAS (HTTP faked at the transport).

Each test scripts the three reads the lookup makes (VM hosts, backing machines, the cluster's
machines) and checks the plan, the requests sent (no write, filtered reads) and the errors.
"""

from __future__ import annotations

import io
import json
import re
import urllib.error

import pytest
from ansible.errors import AnsibleLookupError

from ansible_collections.lxdcp.maas.plugins.lookup import maas_placement
from ansible_collections.lxdcp.maas.tests.unit.plugins.fakehttp import API_KEY, BASE, SECRET, FakeMaas
from ansible_collections.lxdcp.maas.tests.unit.plugins.plugindocs import register_options

PLUGIN = "lxdcp.maas.maas_placement"
GIB = 1024 ** 3


register_options("lookup", PLUGIN, maas_placement.DOCUMENTATION)


# -- MAAS objects, shaped as /vm-hosts/ and /machines/ return them ------------------------------


def vm_host(host_id, name, zone, cores=16, used_cores=0, memory=65536, used_memory=0, pool="default", tags=(),
            cpu_ratio=1.0, memory_ratio=1.0, storage=500 * GIB, system_id=None, kind="lxd"):
    total = {"cores": cores, "memory": memory, "local_storage": 500 * GIB}
    used = {"cores": used_cores, "memory": used_memory, "local_storage": 500 * GIB - storage}
    return {
        "id": host_id,
        "name": name,
        "type": kind,
        "tags": list(tags),
        "zone": {"id": 1, "name": zone, "description": "", "resource_uri": "/MAAS/api/2.0/zones/%s/" % zone},
        "pool": {"id": 0, "name": pool, "description": "", "resource_uri": "/MAAS/api/2.0/resourcepool/0/"},
        "cpu_over_commit_ratio": cpu_ratio,
        "memory_over_commit_ratio": memory_ratio,
        "host": {"system_id": system_id or "host%d" % host_id, "__incomplete__": True},
        "total": total,
        "used": used,
        "available": {key: total[key] - used[key] for key in total},
        "storage_pools": [{"id": "default", "name": "default", "type": "zfs", "path": "/p", "total": 500 * GIB,
                           "used": 500 * GIB - storage, "available": storage, "default": True}],
        "resource_uri": "/MAAS/api/2.0/vm-hosts/%d/" % host_id,
    }


def machine(system_id, hostname, zone, status="Deployed", power="on", pod=None, tags=()):
    return {
        "system_id": system_id,
        "hostname": hostname,
        "status_name": status,
        "power_state": power,
        "zone": {"id": 1, "name": zone},
        "pod": {"id": pod[0], "name": pod[1], "resource_uri": "/MAAS/api/2.0/pods/%d/" % pod[0]} if pod else None,
        "tag_names": list(tags),
    }


def six_hosts(overrides=None):
    """Two hosts per zone in az1..az3, like maas-sim's default scenario; ``overrides`` maps index -> vm_host() settings."""
    hosts = []
    for index in range(6):
        zone = "az%d" % (index // 2 + 1)
        settings = dict((overrides or {}).get(index, {}))
        hosts.append(vm_host(index + 1, "lxd-%d" % (index + 1), zone, **settings))
    return hosts


def backing(hosts, **states):
    """The Deployed machines behind ``hosts``; ``states`` maps system_id -> (status, power)."""
    result = []
    for host in hosts:
        system_id = host["host"]["system_id"]
        status, power = states.get(system_id, ("Deployed", "on"))
        result.append(machine(system_id, "kvm-%s" % host["name"], host["zone"]["name"], status, power))
    return result


def script(fake, hosts, existing=None, states=None, cluster_tag_known=True, untagged=()):
    fake.add("GET", "vm-hosts/", json=hosts)
    fake.add("GET", "zones/", json=[{"id": i, "name": name} for i, name in enumerate(sorted({h["zone"]["name"] for h in hosts}))])
    fake.add("GET", "resourcepools/", json=[{"id": i, "name": name} for i, name in enumerate(sorted({h["pool"]["name"] for h in hosts}))])
    backing_machines = backing(hosts, **(states or {}))
    cluster = existing or []

    def machines(call):
        if "hostname" in call.query:
            return 200, [m for m in list(cluster) + list(untagged) if m["hostname"] in call.query["hostname"]]
        if "tags" in call.query:
            if not cluster_tag_known:
                return 400, {"tags": ["No such tag(s): '%s'." % call.query["tags"][0]]}
            return 200, [m for m in cluster if call.query["tags"][0] in m["tag_names"]]
        wanted = set(call.query.get("id", []))
        return 200, [m for m in backing_machines if m["system_id"] in wanted]

    fake.add("GET", "machines/", handler=machines)
    return fake


@pytest.fixture(name="run")
def fixture_run(monkeypatch):
    """``run(fake, *terms, **options)`` runs the lookup and returns its single plan."""

    def run(fake, *terms, **options):
        monkeypatch.setattr(maas_placement.LookupModule, "client_class", staticmethod(fake.client))
        lookup = maas_placement.LookupModule()
        lookup._load_name = PLUGIN  # pylint: disable=protected-access
        options = dict(dict(url=BASE, api_key=API_KEY), **options)
        result = lookup.run(list(terms), variables={}, **options)
        assert isinstance(result, list) and len(result) == 1
        return result[0]

    return run


def zones_of(plan):
    return [item["zone"] for item in plan["placements"]]


# -- zone spread -------------------------------------------------------------------------------


def test_three_replicas_over_three_zones_one_per_zone(run):
    fake = script(FakeMaas(), six_hosts())
    plan = run(fake, "cp-1", "cp-2", "cp-3", cluster="demo")
    assert sorted(zones_of(plan)) == ["az1", "az2", "az3"]
    assert [item["hostname"] for item in plan["placements"]] == ["cp-1", "cp-2", "cp-3"]
    assert plan["zone_counts"] == {"az1": 1, "az2": 1, "az3": 1} and plan["skew"] == 0
    assert not plan["warnings"] and not plan["rejected"]
    for item in plan["placements"]:
        assert item["vm_host"].startswith("lxd-") and isinstance(item["vm_host_id"], int)
        assert item["existing"] is False and item["reason"] and item["score"] is not None


def test_five_replicas_over_two_zones_three_and_two(run):
    fake = script(FakeMaas(), six_hosts())
    plan = run(fake, "cp-1", "cp-2", "cp-3", "cp-4", "cp-5", cluster="demo", zones=["az1", "az2"])
    counts = sorted(zones_of(plan).count(zone) for zone in ("az1", "az2"))
    assert counts == [2, 3]
    assert set(zones_of(plan)) == {"az1", "az2"}
    # Two hosts per zone: the third VM of a zone has to share a host, and the plan says so.
    assert any("shares host" in warning for warning in plan["warnings"])


def test_new_replicas_fill_the_emptiest_zones(run):
    hosts = six_hosts()
    existing = [
        machine("vm1", "cp-1", "az1", pod=(1, "lxd-1"), tags=["lxdcp-managed", "lxdcp-cluster-demo"]),
        machine("vm2", "cp-2", "az1", pod=(2, "lxd-2"), tags=["lxdcp-managed", "lxdcp-cluster-demo"]),
        machine("vm3", "cp-3", "az2", pod=(3, "lxd-3"), tags=["lxdcp-managed", "lxdcp-cluster-demo"]),
    ]
    fake = script(FakeMaas(), hosts, existing=existing)
    plan = run(fake, "cp-4", "cp-5", "cp-6", cluster="demo")
    # az3 had none, az2 one, az1 two: the new ones make it 2/2/2.
    assert sorted(zones_of(plan)) == ["az2", "az3", "az3"]
    assert plan["zone_counts"] == {"az1": 2, "az2": 2, "az3": 2}
    # In az2 the new VM avoids lxd-3, which runs cp-3 (anti-affinity).
    assert [item["vm_host"] for item in plan["placements"] if item["zone"] == "az2"] == ["lxd-4"]


def test_existing_hostnames_keep_their_host_and_plan_is_stable(run):
    hosts = six_hosts()
    tags = ["lxdcp-managed", "lxdcp-cluster-demo"]
    existing = [
        machine("vm1", "cp-1", "az3", pod=(6, "lxd-6"), tags=tags),
        machine("vm2", "cp-2", "az1", pod=(1, "lxd-1"), tags=tags),
    ]
    fake = script(FakeMaas(), hosts, existing=existing)
    plan = run(fake, "cp-1", "cp-2", "cp-3", cluster="demo")
    first, second, third = plan["placements"]
    assert (first["vm_host"], first["zone"], first["existing"], first["system_id"]) == ("lxd-6", "az3", True, "vm1")
    assert (second["vm_host"], second["zone"], second["existing"]) == ("lxd-1", "az1", True)
    assert third["zone"] == "az2" and third["existing"] is False
    assert "kept where it is" in first["reason"] and first["score"] is None


def test_uneven_existing_vms_are_a_warning(run):
    tags = ["lxdcp-managed", "lxdcp-cluster-demo"]
    existing = [machine("vm1", "cp-1", "az1", pod=(1, "lxd-1"), tags=tags), machine("vm2", "cp-2", "az1", pod=(2, "lxd-2"), tags=tags)]
    plan = run(script(FakeMaas(), six_hosts(), existing=existing), "cp-1", "cp-2", cluster="demo")
    assert [item["existing"] for item in plan["placements"]] == [True, True]
    assert plan["warnings"] == ["zone spread is 2 (az1: 2, az2: 0, az3: 0), asked for at most 1: every VM already exists and keeps its host"]


def test_reads_are_filtered_gets_and_no_write(run):
    fake = script(FakeMaas(), six_hosts())
    plan = run(fake, "cp-1", "cp-2", "cp-3", cluster="demo")
    assert [(call.method, call.path) for call in fake.calls] == [
        ("GET", "vm-hosts/"), ("GET", "machines/"), ("GET", "machines/"), ("GET", "machines/")]
    assert not fake.writes()
    assert sorted(fake.calls[1].query["id"]) == ["host%d" % i for i in range(1, 7)]
    assert fake.calls[2].query["tags"] == ["lxdcp-cluster-demo"]
    # The names that are no tagged machine of the cluster: one of them may be a VM an interrupted run left untagged.
    assert fake.calls[3].query["hostname"] == ["cp-1", "cp-2", "cp-3"]
    assert plan["requests"] == 4


def test_every_name_tagged_needs_no_read_by_name(run):
    tags = ["lxdcp-managed", "lxdcp-cluster-demo"]
    existing = [machine("vm%d" % i, "cp-%d" % i, "az%d" % i, pod=(2 * i - 1, "lxd-%d" % (2 * i - 1)), tags=tags) for i in (1, 2, 3)]
    fake = script(FakeMaas(), six_hosts(), existing=existing)
    plan = run(fake, "cp-1", "cp-2", "cp-3", cluster="demo")
    assert plan["requests"] == 3 and all(item["existing"] for item in plan["placements"])


def test_a_vm_left_untagged_by_an_interrupted_run_is_the_clusters_and_keeps_its_host(run):
    """What maas_lxd_vm adopts (composed, nobody's, New/Commissioning/Ready, no other lxdcp tag) the plan keeps."""
    leftover = dict(machine("vm2", "cp-2", "az1", pod=(1, "lxd-1")), status_name="Ready", owner=None)
    foreign = dict(machine("vm3", "cp-3", "az2", pod=(3, "lxd-3"), tags=["lxdcp-managed", "lxdcp-cluster-other"]), owner=None)
    fake = script(FakeMaas(), six_hosts(), untagged=[leftover, foreign])
    plan = run(fake, "cp-1", "cp-2", "cp-3", cluster="demo")
    by_name = {item["hostname"]: item for item in plan["placements"]}
    assert by_name["cp-2"]["existing"] and by_name["cp-2"]["vm_host"] == "lxd-1" and by_name["cp-2"]["system_id"] == "vm2"
    assert "untagged" in by_name["cp-2"]["reason"]
    assert not by_name["cp-3"]["existing"]  # another cluster's VM of that name is not ours
    assert by_name["cp-1"]["zone"] != "az1" and plan["zone_counts"]["az1"] == 1


def test_without_cluster_existing_vms_are_not_read(run):
    fake = script(FakeMaas(), six_hosts())
    plan = run(fake, count=2)
    assert len(fake.calls) == 2
    assert [item["hostname"] for item in plan["placements"]] == [None, None]
    assert [item["index"] for item in plan["placements"]] == [0, 1]


def test_unknown_cluster_tag_means_no_existing_vms(run):
    fake = script(FakeMaas(), six_hosts(), cluster_tag_known=False)
    plan = run(fake, "cp-1", "cp-2", "cp-3", cluster="new")
    assert sorted(zones_of(plan)) == ["az1", "az2", "az3"]


def test_bare_metal_machines_of_the_cluster_are_not_replicas(run):
    tags = ["lxdcp-managed", "lxdcp-cluster-demo"]
    existing = [machine("bm%d" % i, "worker-%d" % i, "az1", tags=tags) for i in range(3)]
    fake = script(FakeMaas(), six_hosts(), existing=existing)
    plan = run(fake, "cp-1", "cp-2", "cp-3", cluster="demo")
    assert sorted(zones_of(plan)) == ["az1", "az2", "az3"]


# -- strategies --------------------------------------------------------------------------------


# In each zone, the first host has 2 cores allocated and little free memory, the second 8 cores and all its memory free.
CPU_OR_MEMORY = {index: dict(used_cores=2, used_memory=60000) if index % 2 == 0 else dict(used_cores=8, used_memory=0)
                 for index in range(6)}


@pytest.mark.parametrize("strategy, chosen", [
    ("least-allocated-cpu", ["lxd-1", "lxd-3", "lxd-5"]),  # fewest allocated cores
    ("most-free", ["lxd-2", "lxd-4", "lxd-6"]),  # most free cores and memory relative to the request
])
def test_strategy_decides_within_each_zone(run, strategy, chosen):
    plan = run(script(FakeMaas(), six_hosts(CPU_OR_MEMORY)), "a", "b", "c", strategy=strategy)
    assert sorted(item["vm_host"] for item in plan["placements"]) == chosen
    assert plan["strategy"] == strategy


# -- filters and MAAS data ---------------------------------------------------------------------


def test_unhealthy_backing_machine_is_rejected(run):
    fake = script(FakeMaas(), six_hosts(), states={"host1": ("Deployed", "error"), "host2": ("Broken", "on")})
    plan = run(fake, "a", "b", "c")
    assert "az1" not in zones_of(plan)
    rejected = {item["host"]: item for item in plan["rejected"]}
    assert rejected["lxd-1"]["code"] == "unhealthy" and "powered error" in rejected["lxd-1"]["reason"]
    assert rejected["lxd-2"]["code"] == "unhealthy" and "Broken" in rejected["lxd-2"]["reason"]
    assert any("zone spread" in warning and "az1" in warning for warning in plan["warnings"])


def test_backing_machine_not_visible_is_a_warning(run):
    hosts = six_hosts()
    fake = FakeMaas().add("GET", "vm-hosts/", json=hosts)
    fake.add("GET", "machines/", json=backing(hosts[1:]))  # host1 is not visible to this user
    plan = run(fake, "a", "b", "c")
    assert not plan["rejected"]
    assert plan["warnings"] == ["VM host lxd-1: backing machine host1 is not visible to this user; its health is not checked"]


def test_zone_without_room_is_reported_in_the_warnings(run):
    full = dict(used_cores=16, used_memory=65536)
    fake = script(FakeMaas(), six_hosts({4: full, 5: full}))
    plan = run(fake, "cp-1", "cp-2", "cp-3", cluster="demo", cores=2, memory="4G")
    assert "az3" not in zones_of(plan)
    assert {item["host"] for item in plan["rejected"]} == {"lxd-5", "lxd-6"}
    assert all(item["code"] == "cpu" for item in plan["rejected"])
    warning = " ".join(plan["warnings"])
    assert "zone az3" in warning and "2 hosts lack 2 cores free" in warning
    assert plan["zone_counts"]["az3"] == 0 and plan["skew"] == 2


def test_over_commit_from_maas_and_override(run):
    hosts = [vm_host(1, "small", "az1", cores=4, used_cores=4, cpu_ratio=1.0)]
    with pytest.raises(AnsibleLookupError, match="cpu"):
        run(script(FakeMaas(), hosts), count=1)
    plan = run(script(FakeMaas(), hosts), count=1, cpu_over_commit=2.0)
    assert plan["placements"][0]["vm_host"] == "small"
    hosts = [vm_host(1, "small", "az1", cores=4, used_cores=4, cpu_ratio=2.0)]
    assert run(script(FakeMaas(), hosts), count=1)["placements"][0]["vm_host"] == "small"


def virsh_hosts():
    """One virsh VM host per zone, far bigger than the LXD hosts: the most-free strategy would pick them first."""
    return [vm_host(10 + index, "virsh-az%d" % index, "az%d" % index, cores=256, memory=1048576, kind="virsh")
            for index in (1, 2, 3)]


def test_only_lxd_vm_hosts_are_candidates_and_virsh_hosts_are_rejected_with_a_reason(run):
    hosts = six_hosts() + virsh_hosts()
    fake = script(FakeMaas(), hosts)
    plan = run(fake, "cp-1", "cp-2", "cp-3", cluster="demo")
    assert sorted(item["vm_host"] for item in plan["placements"]) == ["lxd-1", "lxd-3", "lxd-5"]
    assert plan["rejected"] == [
        {"host": "virsh-az%d" % index, "host_id": 10 + index, "zone": "az%d" % index, "code": "type",
         "reason": "virsh VM host, not LXD: maas_lxd_vm composes LXD VMs only"} for index in (1, 2, 3)]
    assert "rejected virsh-az1 (az1): virsh VM host, not LXD: maas_lxd_vm composes LXD VMs only" in plan["explanation"]
    assert plan["explanation"][0].endswith("3 host(s) rejected")
    # Only the LXD hosts' machines are read for their health.
    assert sorted(fake.calls[1].query["id"]) == ["host%d" % i for i in range(1, 7)]
    assert plan["zone_counts"] == {"az1": 1, "az2": 1, "az3": 1} and not plan["warnings"]


def test_a_plan_that_fails_lists_the_virsh_hosts_too(run):
    with pytest.raises(AnsibleLookupError) as caught:
        run(script(FakeMaas(), six_hosts() + virsh_hosts()), "big", cores=64)
    text = str(caught.value)
    assert "cannot place 1 VM" in text and "cpu" in text
    assert text.count("rejected lxd-") == 6
    assert "rejected virsh-az2 (az2): virsh VM host, not LXD" in text


def test_no_lxd_vm_host_is_a_clear_error(run):
    with pytest.raises(AnsibleLookupError) as caught:
        run(script(FakeMaas(), virsh_hosts()[:1]), "cp-1")
    assert str(caught.value) == ("maas_placement: MAAS has no LXD VM host (virsh-az1: virsh VM host, not LXD: maas_lxd_vm "
                                 "composes LXD VMs only); add one (MAAS UI > KVM > Add LXD host)")


def test_pool_tags_and_storage_filters(run):
    hosts = [
        vm_host(1, "other-pool", "az1", pool="spare"),
        vm_host(2, "untagged", "az1"),
        vm_host(3, "tiny-disk", "az1", tags=["ssd"], storage=10 * GIB),
        vm_host(4, "good", "az1", tags=["ssd", "fast"]),
    ]
    plan = run(script(FakeMaas(), hosts), count=1, pool="default", host_tags=["ssd"], disk="20G")
    assert plan["placements"][0]["vm_host"] == "good"
    codes = {item["host"]: item["code"] for item in plan["rejected"]}
    assert codes == {"other-pool": "pool", "untagged": "tags", "tiny-disk": "storage"}


def test_impossible_request_names_the_tightest_constraint(run):
    fake = script(FakeMaas(), six_hosts())
    with pytest.raises(AnsibleLookupError) as caught:
        run(fake, "big", cores=64)
    text = str(caught.value)
    assert "cannot place 1 VM" in text and "cpu" in text
    assert text.count("rejected lxd-") == 6


def test_vm_hosts_gone_with_lxd_via_vm_host_says_so(run):
    fake = FakeMaas().add("GET", "vm-hosts/", status=410, text="VM host (KVM) support has been removed from MAAS.")
    with pytest.raises(AnsibleLookupError, match="no longer supports VM hosts.*Set lxd_via: direct"):
        run(fake, count=1, lxd_via="vm-host")


def test_auth_error_does_not_show_the_key(run):
    fake = FakeMaas().add("GET", "vm-hosts/", status=401, text="Authorization Error: 'Invalid access token: tk-token'")
    with pytest.raises(AnsibleLookupError) as caught:
        run(fake, count=1)
    assert "401" in str(caught.value) and SECRET not in str(caught.value)


# -- input validation: nothing is sent ---------------------------------------------------------


@pytest.mark.parametrize("terms, options, message", [
    ((), {}, "give the hostnames as terms or set count"),
    (("a", "b"), {"count": 3}, "count is 3 but 2 hostname"),
    (("a", "a"), {}, "repeated: a"),
    (("a",), {"cores": 0}, "cores must be 1 or more"),
    (("a",), {"memory": "lots"}, "memory 'lots' is not a size"),
    (("a",), {"disk": "-1G"}, "disk"),
    (("a",), {"zones": []}, "zones must not be empty"),
    (("a",), {"cluster": "my cluster"}, "cluster 'my cluster' may only contain letters"),
    (("a",), {"cpu_over_commit": 0.0}, "cpu_over_commit must be greater than 0"),
    (("a",), {"api_key": "not-a-key"}, "api_key is malformed"),
    (("a",), {"ca_path": "/nonexistent/ca.pem", "url": "https://maas:5240/MAAS"}, "ca_path /nonexistent/ca.pem does not exist"),
])
def test_bad_input_fails_before_any_request(run, terms, options, message):
    fake = FakeMaas()
    with pytest.raises(AnsibleLookupError, match=message):
        run(fake, *terms, **options)
    assert not fake.calls


def test_group_list_terms_are_flattened(run):
    fake = script(FakeMaas(), six_hosts())
    plan = run(fake, ["cp-1", "cp-2"], "cp-3")
    assert [item["hostname"] for item in plan["placements"]] == ["cp-1", "cp-2", "cp-3"]


def test_url_and_key_from_the_environment(run, monkeypatch):
    monkeypatch.setenv("MAAS_URL", BASE)
    monkeypatch.setenv("MAAS_API_KEY", API_KEY)
    fake = script(FakeMaas(), six_hosts())
    monkeypatch.setattr(maas_placement.LookupModule, "client_class", staticmethod(fake.client))
    lookup = maas_placement.LookupModule()
    lookup._load_name = PLUGIN  # pylint: disable=protected-access
    plan = lookup.run(["a"], variables={})[0]
    assert len(plan["placements"]) == 1
    assert "tk-token" in str(fake.calls[0].headers["Authorization"])


# -- explanation -------------------------------------------------------------------------------


def test_vvv_shows_the_explanation(run, monkeypatch):
    shown = []
    monkeypatch.setattr(maas_placement.display, "vvv", lambda msg, host=None: shown.append(msg))
    fake = script(FakeMaas(), six_hosts())
    plan = run(fake, "cp-1", "cp-2", "cp-3", cluster="demo")
    assert shown == ["maas_placement: %s" % line for line in plan["explanation"]]
    assert plan["explanation"][0].startswith("strategy most-free: 3 VM(s), 3 new, 0 kept")
    assert any(line.startswith("cp-1 -> lxd-") for line in plan["explanation"])
    assert plan["explanation"][-1] == "zones: az1=1, az2=1, az3=1 (spread 0, max_skew 1)"
    json.dumps(plan)  # JSON-safe


# -- lxd-multi-scheduler ---------------------------------------------------------------------


class FakeScheduler(object):
    """Stands in for ansible's open_url: records the request and answers like POST /schedule.

    ``body`` is the answer, or ``callable(sent body) -> answer``.
    """

    def __init__(self, status=200, body=None):
        self.status = status
        self.body = body
        self.requests = []

    def __call__(self, url, data=None, headers=None, method=None, **kwargs):
        sent = json.loads(data)
        self.requests.append(dict(url=url, body=sent, headers=headers, method=method, **kwargs))
        payload = json.dumps(self.body(sent) if callable(self.body) else self.body).encode()
        if self.status >= 400:
            raise urllib.error.HTTPError(url, self.status, "Conflict", {}, io.BytesIO(payload))
        return io.BytesIO(payload)


def answer_on(*hosts, strategy="least-allocated-cpu", rejected=(), warnings=()):
    """A 200 answer of POST /schedule placing one instance on each of ``hosts``."""
    placements = [{"host": host, "url": "https://%s:8443" % host, "reason": "reason %d" % index, "score": float(index)}
                  for index, host in enumerate(hosts)]
    return {"host": hosts[0], "url": placements[0]["url"], "explanation": "reason 0", "strategy": strategy,
            "placements": placements, "rejected": list(rejected), "warnings": list(warnings)}


@pytest.fixture(name="scheduler")
def fixture_scheduler(monkeypatch):
    """``scheduler(status=200, body=None)`` -> the FakeScheduler the lookup's open_url now is."""

    def install(status=200, body=None):
        fake = FakeScheduler(status, body)
        monkeypatch.setattr(maas_placement.LookupModule, "open_url", staticmethod(fake))
        return fake

    return install


SCHED = dict(scheduler_url="http://sched:8080/", scheduler_api_key="sched-secret")


def test_scheduler_places_the_new_vms(run, scheduler):
    fake_scheduler = scheduler(body=answer_on("lxd-3", "lxd-6", strategy="balanced"))
    tags = ["lxdcp-managed", "lxdcp-cluster-demo"]
    fake = script(FakeMaas(), six_hosts(), existing=[machine("vm1", "cp-1", "az1", pod=(1, "lxd-1"), tags=tags)])
    plan = run(fake, "cp-1", "cp-2", "cp-3", cluster="demo", strategy="balanced", zones=["az1", "az2", "az3"], **SCHED)
    sent = fake_scheduler.requests[0]
    assert sent["url"] == "http://sched:8080/schedule" and sent["method"] == "POST"
    # zones, pool and tags are applied from MAAS: the allow-list carries the result.
    assert sent["body"] == {"instance_requirements": {"cpu": 2, "memory": 4096}, "count": 2, "strategy": "balanced",
                            "reserve": False, "hosts": ["lxd-1", "lxd-2", "lxd-3", "lxd-4", "lxd-5", "lxd-6"], "max_skew": 1}
    assert sent["headers"]["X-API-Key"] == "sched-secret" and sent["validate_certs"] is True
    placements = plan["placements"]
    assert placements[0]["existing"] is True and placements[0]["vm_host"] == "lxd-1"
    assert [(p["hostname"], p["vm_host"], p["vm_host_id"], p["zone"], p["reason"]) for p in placements[1:]] == [
        ("cp-2", "lxd-3", 3, "az2", "lxd-multi-scheduler: reason 0"), ("cp-3", "lxd-6", 6, "az3", "lxd-multi-scheduler: reason 1")]
    # zones checked (1), VM hosts, backing machines, the cluster, the two names not in it, the scheduler.
    assert plan["source"] == "scheduler" and plan["strategy"] == "balanced" and plan["requests"] == 6
    assert plan["zone_counts"] == {"az1": 1, "az2": 1, "az3": 1} and plan["warnings"] == [] and plan["rejected"] == []
    assert plan["explanation"][0] == "lxd-multi-scheduler, strategy balanced: 3 VM(s), 2 new, 1 kept; 0 host(s) rejected"


def maas_says_no_hosts():
    """Seven VM hosts, each but lxd-6 ruled out by MAAS for another reason (for pool=default, tags=[ssd], disk=20G)."""
    ssd = dict(tags=["ssd"])
    hosts = six_hosts({0: dict(ssd, kind="virsh"), 1: ssd, 2: dict(ssd, pool="spare"), 4: dict(ssd, storage=10 * GIB), 5: ssd})
    return hosts + [vm_host(7, "lxd-7", "az3", used_cores=16, tags=["ssd"])]


def test_scheduler_chooses_only_among_the_hosts_maas_allows(run, scheduler):
    fake_scheduler = scheduler(body=answer_on("lxd-6", rejected=[
        {"host": "lxd-%d" % index, "host_id": "https://lxd-%d:8443" % index, "zone": "default", "code": "hosts",
         "reason": "not in the request's hosts"} for index in (1, 2, 3, 4, 5, 7)]))
    fake = script(FakeMaas(), maas_says_no_hosts(), states={"host2": ("Deployed", "error")})
    plan = run(fake, "cp-1", pool="default", host_tags=["ssd"], disk="20G", **SCHED)
    assert fake_scheduler.requests[0]["body"]["hosts"] == ["lxd-6"]
    assert [(p["hostname"], p["vm_host"]) for p in plan["placements"]] == [("cp-1", "lxd-6")]
    # Every host MAAS rules out is rejected with MAAS's reason; the scheduler's "not in the request's hosts" is not repeated.
    assert [(r["host"], r["code"]) for r in plan["rejected"]] == [
        ("lxd-1", "type"), ("lxd-2", "unhealthy"), ("lxd-3", "pool"), ("lxd-4", "tags"), ("lxd-5", "storage"), ("lxd-7", "cpu")]
    reasons = {r["host"]: r["reason"] for r in plan["rejected"]}
    assert reasons["lxd-2"] == "unhealthy: backing machine kvm-lxd-2 is powered error"
    assert reasons["lxd-5"] == "storage pool 'default': needs 20 GiB, has 10 GiB"


def test_scheduler_is_not_asked_when_maas_rules_out_every_host(run, scheduler):
    fake_scheduler = scheduler(body=answer_on("lxd-1"))
    with pytest.raises(AnsibleLookupError) as caught:
        run(script(FakeMaas(), six_hosts()), "cp-1", "cp-2", disk="900G", **SCHED)
    text = str(caught.value)
    assert text.startswith("maas_placement: no MAAS VM host can take one of the VMs, so lxd-multi-scheduler was not asked: "
                           "cannot place 1 VM (2 cores, 4096 MiB, 900 GiB): no host has room; tightest constraint: storage")
    assert "rejected lxd-1 (az1): storage pool 'default': needs 900 GiB, has 500 GiB" in text
    assert fake_scheduler.requests == []


def test_unhealthy_maas_hosts_are_never_sent(run, scheduler):
    fake_scheduler = scheduler(body=lambda sent: answer_on(*sent["hosts"][:sent["count"]]))
    fake = script(FakeMaas(), six_hosts(), states={"host1": ("Deployed", "off"), "host4": ("Broken", "on")})
    plan = run(fake, "a", "b", "c", **SCHED)
    assert fake_scheduler.requests[0]["body"]["hosts"] == ["lxd-2", "lxd-3", "lxd-5", "lxd-6"]
    assert [p["vm_host"] for p in plan["placements"]] == ["lxd-2", "lxd-3", "lxd-5"]
    assert [(r["host"], r["code"]) for r in plan["rejected"]] == [("lxd-1", "unhealthy"), ("lxd-4", "unhealthy")]


def test_scheduler_default_strategy_applies_unless_one_is_set(run, scheduler):
    fake_scheduler = scheduler(body=answer_on("lxd-1"))
    plan = run(script(FakeMaas(), six_hosts()), "a", **SCHED)
    assert "strategy" not in fake_scheduler.requests[0]["body"]
    assert plan["strategy"] == "least-allocated-cpu"  # what the scheduler reports it used
    assert plan["explanation"][0].startswith("lxd-multi-scheduler, strategy least-allocated-cpu: 1 VM(s)")
    run(script(FakeMaas(), six_hosts()), "a", strategy=None, **SCHED)  # what a role passes for "not set"
    assert "strategy" not in fake_scheduler.requests[-1]["body"]
    run(script(FakeMaas(), six_hosts()), "a", strategy="most-free", max_skew=2, **SCHED)
    assert fake_scheduler.requests[-1]["body"]["strategy"] == "most-free"
    assert fake_scheduler.requests[-1]["body"]["max_skew"] == 2
    # Locally the placement core's default still applies.
    assert run(script(FakeMaas(), six_hosts()), "a")["strategy"] == "most-free"


def test_scheduler_rejections_are_added_with_maas_ids_and_zones(run, scheduler):
    scheduler(body=answer_on("lxd-6", rejected=[
        {"host": "lxd-1", "host_id": "https://lxd-1:8443", "zone": "default", "code": "hosts", "reason": "not in the request's hosts"},
        {"host": "lxd-3", "host_id": "https://lxd-3:8443", "zone": "default", "code": "memory", "reason": "no room: needs 4096 MiB"},
        {"host": "lxd-4", "host_id": None, "zone": None, "code": "unknown", "reason": "not a host of this scheduler"},
    ]))
    fake = script(FakeMaas(), six_hosts(), states={"host1": ("Broken", "on")})
    plan = run(fake, "a", **SCHED)
    assert plan["rejected"] == [
        {"host": "lxd-1", "host_id": 1, "zone": "az1", "code": "unhealthy", "reason": "unhealthy: backing machine kvm-lxd-1 is Broken"},
        {"host": "lxd-3", "host_id": 3, "zone": "az2", "code": "memory", "reason": "lxd-multi-scheduler: no room: needs 4096 MiB"},
        {"host": "lxd-4", "host_id": 4, "zone": "az2", "code": "unknown", "reason": "lxd-multi-scheduler: not a host of this scheduler"},
    ]
    assert "rejected lxd-4 (az2): lxd-multi-scheduler: not a host of this scheduler" in plan["explanation"]


def test_scheduler_refusal_lists_both_sides_without_the_key(run, scheduler):
    body = {"error": "no suitable node found", "reason": "cpu", "message": "cannot place 1 instance: no host has room",
            "details": [{"host": "lxd-2", "code": "cpu", "reason": "no room: needs 2 cores"},
                        {"host": "lxd-1", "code": "hosts", "reason": "not in the request's hosts"}]}
    scheduler(409, body)
    fake = script(FakeMaas(), six_hosts()[:2], states={"host1": ("Deployed", "error")})
    with pytest.raises(AnsibleLookupError) as caught:
        run(fake, "a", **SCHED)
    assert str(caught.value) == (
        "maas_placement: lxd-multi-scheduler at http://sched:8080/schedule refused the request: 409 cannot place 1 instance: no host has room\n"
        "  rejected lxd-1 (az1): unhealthy: backing machine kvm-lxd-1 is powered error\n"
        "  rejected lxd-2 (az1): lxd-multi-scheduler: no room: needs 2 cores")


@pytest.mark.parametrize("status, body, expected", [
    (401, {"error": "invalid API key"}, "401 invalid API key; check scheduler_api_key (LXD_MULTI_SCHEDULER_API_KEY)"),
    (400, {"error": "invalid request: hosts: unknown field", "field": "hosts"},
     "400 invalid request: hosts: unknown field; this lxd-multi-scheduler is older than the lookup, which sends hosts and max_skew: "
     "upgrade it"),
    (400, {"error": "invalid request: hosts: none of lxd-1 is a host of this scheduler (its hosts: a, b)", "field": "hosts"},
     "400 invalid request: hosts: none of lxd-1 is a host of this scheduler (its hosts: a, b)"),
])
def test_scheduler_errors_say_what_to_do(run, scheduler, status, body, expected):
    scheduler(status, body)
    with pytest.raises(AnsibleLookupError) as caught:
        run(script(FakeMaas(), six_hosts()[:2], states={"host2": ("Broken", "on")}), "a", **SCHED)
    assert str(caught.value) == "maas_placement: lxd-multi-scheduler at http://sched:8080/schedule refused the request: " + expected
    assert "sched-secret" not in str(caught.value)


def test_more_vms_on_a_host_than_maas_has_room_for_fails(run, scheduler):
    hosts = [vm_host(1, "lxd-1", "az1", storage=30 * GIB)]
    scheduler(body=answer_on("lxd-1", "lxd-1"))
    with pytest.raises(AnsibleLookupError) as caught:
        run(script(FakeMaas(), hosts), "a", "b", disk="20G", **SCHED)
    assert str(caught.value).startswith(
        "maas_placement: lxd-multi-scheduler put 2 VMs on lxd-1, more than MAAS has room for there: cannot place 2 VMs "
        "(2 cores, 4096 MiB, 20 GiB): only 1 host has room, for 1 of the 2 VMs; tightest constraint (after placing 1): storage")
    # With room for both, two VMs on one host are accepted (the scheduler's own warning says why it shared).
    hosts = [vm_host(1, "lxd-1", "az1")]
    scheduler(body=answer_on("lxd-1", "lxd-1", warnings=["instance 1 shares host lxd-1 with 1 other instance of this request"]))
    plan = run(script(FakeMaas(), hosts), "a", "b", disk="20G", **SCHED)
    assert [p["vm_host"] for p in plan["placements"]] == ["lxd-1", "lxd-1"]
    assert plan["warnings"] == ["lxd-multi-scheduler: instance 1 shares host lxd-1 with 1 other instance of this request"]


def test_existing_replicas_the_scheduler_ignored_are_warnings(run, scheduler):
    tags = ["lxdcp-managed", "lxdcp-cluster-demo"]
    existing = [machine("vm1", "cp-1", "az1", pod=(1, "lxd-1"), tags=tags)]
    scheduler(body=answer_on("lxd-1"))
    plan = run(script(FakeMaas(), six_hosts(), existing=existing), "cp-1", "cp-2", cluster="demo", **SCHED)
    assert plan["zone_counts"] == {"az1": 2, "az2": 0, "az3": 0} and plan["skew"] == 2
    assert plan["warnings"] == [
        "cp-2 goes to lxd-1, which already runs 1 VM(s) of the cluster: lxd-multi-scheduler does not know them",
        "zone spread is 2 (az1: 2, az2: 0, az3: 0), asked for at most 1: lxd-multi-scheduler chose among the VM hosts MAAS "
        "allows (see rejected), by its own zone labels and without knowing the cluster's existing replicas",
    ]


@pytest.mark.parametrize("body, message", [
    (answer_on("elsewhere"), "the scheduler chose host 'elsewhere', which is not one of the MAAS VM hosts it was allowed (lxd-2)"),
    (answer_on("lxd-1"), "the scheduler chose host 'lxd-1', which is not one of the MAAS VM hosts it was allowed (lxd-2)"),
    (answer_on("lxd-2", "lxd-2"), "lxd-multi-scheduler answered 2 placement(s) for 1 VM(s)"),
])
def test_scheduler_answers_outside_the_request_fail(run, scheduler, body, message):
    scheduler(body=body)
    fake = script(FakeMaas(), six_hosts()[:2], states={"host1": ("Broken", "on")})
    with pytest.raises(AnsibleLookupError, match=re.escape(message)):
        run(fake, "a", **SCHED)


@pytest.mark.parametrize("options, message", [
    ({"zones": ["az1", "az9"]}, "maas_placement: unknown zone(s): az9 (MAAS has: az1, az2, az3)"),
    ({"pool": "gold"}, "maas_placement: unknown resource pool 'gold' (MAAS has: default)"),
])
def test_unknown_zone_or_pool_fails_naming_maas_ones(run, options, message):
    fake = script(FakeMaas(), six_hosts())
    with pytest.raises(AnsibleLookupError) as caught:
        run(fake, "cp-1", cluster="demo", **options)
    assert str(caught.value) == message
    assert not fake.writes() and [call.path for call in fake.calls] == ["zones/" if "zones" in options else "resourcepools/"]
