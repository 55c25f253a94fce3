"""End to end: the collection's ``maas_placement`` lookup asking a real lxd-multi-scheduler.

Two real LXD daemons (``lxd1``, ``lxd2``), the scheduler process reading them, and a maas-sim
whose VM hosts carry the same names (the lookup maps the scheduler's answer back to MAAS VM hosts
by name). MAAS and LXD are made to disagree on purpose: MAAS shows ``lxd2`` busy and ``lxd1``
empty, LXD the other way round. A plan made locally from MAAS and a plan made by the scheduler
from LXD therefore differ, and the test can tell which one the lookup returned. The lookup runs in
``ansible-playbook`` (the integration tests' playbook runner).

MAAS still has the first word in scheduler mode: a VM host that MAAS reports unhealthy, or that
has no room for the disk, is never offered to the scheduler (the lookup sends the others as the
request's ``hosts``), and the scheduler's own default strategy applies unless the lookup sets one.
"""

from __future__ import annotations

import copy
import json

import yaml

from simharness import default_scenario_path  # pylint: disable=import-error

from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import Playbook, sim_objects

API_KEY = "lookup-e2e-scheduler-key"
ZONES = {"lxd1": "az1", "lxd2": "az2"}
NAMES = ["cp-1", "cp-2"]
MAAS_MEMORY = 1024 * 1024  # MiB per VM host in MAAS: more than any LXD daemon here has, so only LXD can lack memory


def scenario():
    """The default scenario with two VM hosts named like the LXD daemons; MAAS shows lxd2 busy."""
    with open(default_scenario_path(), encoding="utf-8") as handle:
        data = copy.deepcopy(yaml.safe_load(handle))
    data["machines"] = []
    data["vm_hosts"] = [
        {"name": name, "zone": zone, "pool": "default", "cores": 16, "memory": MAAS_MEMORY,
         "storage_pools": [{"name": "default", "type": "dir", "size": "500G"}],
         "host": {"hostname": name, "ip": f"10.10.0.{11 + index}"},
         "vms": [{"name": "maas-busy", "cores": 12, "memory": 16384, "disk": "50G"}] if name == "lxd2" else []}
        for index, (name, zone) in enumerate(ZONES.items())
    ]
    return data


def lookup_task(sim, name="plan", ignore_errors=False, **options):
    """A debug task ``name`` that evaluates the lookup for NAMES with ``options`` (MAAS URL and key included)."""
    options = dict(options, url=sim.url, api_key=sim.api_key)
    arguments = ", ".join([json.dumps(name) for name in NAMES] + [f"{key}={json.dumps(value)}" for key, value in options.items()])
    return {"name": name, "ignore_errors": ignore_errors,
            "ansible.builtin.debug": {"msg": "{{ lookup('lxdcp.maas.maas_placement', %s) }}" % arguments}}


def schedule_requests(scheduler):
    """Statuses of the ``POST /schedule`` requests the scheduler logged, in order."""
    return [r["status"] for r in scheduler.log_records() if r.get("event") == "http_request" and r["path"] == "/schedule"]


def test_lookup_plans_with_the_scheduler(lxd, start_scheduler, sim_factory, tmp_path):
    lxd1, _lxd2 = lxd.daemons
    lxd1.create("lxd-busy", cpu=4, memory="2GiB")  # LXD shows lxd1 busy
    scheduler = start_scheduler(lxd.hosts(**{name: {"zone": zone} for name, zone in ZONES.items()}),
                                {"cpu_over_commit": 16, "api_keys": [API_KEY]})
    scheduler.session.headers["X-API-Key"] = API_KEY  # the test's own requests
    sim = sim_factory(scenario=scenario())
    playbook = Playbook(sim, tmp_path)
    request = {"cores": 2, "memory": 1024}  # no strategy: locally most-free, with the scheduler its default
    sched = {"scheduler_url": scheduler.url, "scheduler_api_key": API_KEY}

    local = playbook.run([lookup_task(sim, **request)], auth=False)
    asked = playbook.run([lookup_task(sim, **request, **sched), lookup_task(sim, "explicit", strategy="most-free", **request, **sched)],
                         auth=False, verbosity=3)
    assert local.ok and asked.ok, asked.stdout[-3000:] + asked.stderr[-3000:]
    local_plan, plan = local.task("plan")["msg"], asked.task("plan")["msg"]

    # Locally, from MAAS: the first VM goes to lxd1, empty in MAAS.
    assert local_plan["source"] == "maas" and local_plan["strategy"] == "most-free"
    assert [(p["hostname"], p["vm_host"]) for p in local_plan["placements"]] == [("cp-1", "lxd1"), ("cp-2", "lxd2")]

    # With the scheduler, from LXD and with the scheduler's default strategy: it goes to lxd2, which has the fewest
    # allocated cores in LXD.
    assert plan["source"] == "scheduler" and plan["strategy"] == "least-allocated-cpu"
    assert [(p["hostname"], p["vm_host"], p["zone"]) for p in plan["placements"]] == [("cp-1", "lxd2", "az2"), ("cp-2", "lxd1", "az1")]
    vm_host_ids = {pod["name"]: pod["id"] for pod in sim_objects(sim, "pod")}
    assert [p["vm_host_id"] for p in plan["placements"]] == [vm_host_ids["lxd2"], vm_host_ids["lxd1"]]
    assert plan["rejected"] == [] and plan["warnings"] == []
    hosts = {h["name"]: h for h in scheduler.request("GET", "/hosts").json()["hosts"]}
    assert (hosts["lxd1"]["used_cores"], hosts["lxd2"]["used_cores"]) == (4, 0)
    # A strategy set in the lookup is the one the scheduler uses.
    explicit = asked.task("explicit")["msg"]
    assert explicit["strategy"] == "most-free" and all("; most-free: free ratio " in p["reason"] for p in explicit["placements"])

    # The plan is the scheduler's own answer to the same question (both MAAS VM hosts allowed), mapped onto MAAS.
    direct = scheduler.schedule(2, 1024, count=2, hosts=["lxd1", "lxd2"], reserve=False)
    assert direct.status_code == 200, direct.text
    answer = direct.json()
    assert answer["strategy"] == "least-allocated-cpu"
    assert [p["vm_host"] for p in plan["placements"]] == [p["host"] for p in answer["placements"]]
    assert [p["reason"] for p in plan["placements"]] == [f"lxd-multi-scheduler: {p['reason']}" for p in answer["placements"]]
    assert [p["score"] for p in plan["placements"]] == [p["score"] for p in answer["placements"]] == [0.0, 4.0]

    # The lookup only asks: nothing reserved on the scheduler, nothing written to MAAS, the key never shown.
    reservations = scheduler.request("GET", "/reservations").json()["reservations"]
    assert reservations == []
    assert asked.writes == [] and local.writes == []
    assert "maas_placement: cp-1 -> lxd2 in az2: lxd-multi-scheduler: " in asked.stdout  # -vvv explains the plan
    assert API_KEY not in asked.stdout + asked.stderr
    assert schedule_requests(scheduler) == [200, 200, 200]  # the lookup's two questions, then the direct one

    # What the scheduler refuses (more memory than an LXD daemon has, though MAAS has room), the lookup reports with the
    # scheduler's reasons.
    too_much = max(h["total_memory"] for h in hosts.values()) + 1024
    assert too_much < MAAS_MEMORY - 16384, "this machine has more memory than MAAS's VM hosts in the scenario"
    full = playbook.run([lookup_task(sim, cores=2, memory=too_much, **sched)], auth=False)
    wrong_key = playbook.run([lookup_task(sim, **request, scheduler_url=scheduler.url, scheduler_api_key="not-the-key")], auth=False)
    assert not full.ok and not wrong_key.ok
    message = full.task("plan")["msg"]
    assert f"refused the request: 409 cannot place 2 instances (2 cores, {too_much} MiB)" in message, message
    assert f"rejected lxd1 (az1): lxd-multi-scheduler: no room: needs {too_much} MiB" in message
    assert f"rejected lxd2 (az2): lxd-multi-scheduler: no room: needs {too_much} MiB" in message
    assert "refused the request: 401 invalid API key; check scheduler_api_key" in wrong_key.task("plan")["msg"]
    assert "not-the-key" not in wrong_key.stdout + wrong_key.stderr


def test_maas_rules_out_hosts_before_the_scheduler_chooses(lxd, start_scheduler, sim_factory, tmp_path):
    scheduler = start_scheduler(lxd.hosts(**{name: {"zone": zone} for name, zone in ZONES.items()}), {"cpu_over_commit": 16})
    sim = sim_factory(scenario=scenario())
    playbook = Playbook(sim, tmp_path)
    sched = {"scheduler_url": scheduler.url, "cores": 2, "memory": 1024}
    sim.faults(vmhost_offline=["lxd2"])  # MAAS: lxd2's machine is powered "error"; LXD: lxd2 is up and the emptier

    run = playbook.run([lookup_task(sim, "offline", **sched), lookup_task(sim, "disk", ignore_errors=True, disk="900G", **sched)],
                       auth=False)
    offline, disk = run.task("offline"), run.task("disk")
    assert run.ok, offline
    plan = offline["msg"]

    # The unhealthy host is never chosen: both VMs share lxd1, and the plan says why.
    assert [(p["hostname"], p["vm_host"]) for p in plan["placements"]] == [("cp-1", "lxd1"), ("cp-2", "lxd1")]
    [rejected] = plan["rejected"]
    assert (rejected["host"], rejected["zone"], rejected["code"]) == ("lxd2", "az2", "unhealthy")
    assert rejected["reason"].startswith("unhealthy: backing machine lxd2 is powered error")
    assert any(w.startswith("zone spread is 2 (az1: 2, az2: 0), asked for at most 1: ") for w in plan["warnings"]), plan["warnings"]
    assert any(w.startswith("lxd-multi-scheduler: instance 1 shares host lxd1") for w in plan["warnings"]), plan["warnings"]

    # A disk no storage pool can hold fails clearly, and the scheduler is not even asked.
    assert disk.get("failed")
    assert ("maas_placement: no MAAS VM host can take one of the VMs, so lxd-multi-scheduler was not asked: cannot place 1 VM "
            "(2 cores, 1024 MiB, 900 GiB): no host has room; tightest constraint: storage") in disk["msg"], disk["msg"]
    assert "rejected lxd1 (az1): storage pool 'default': needs 900 GiB, has " in disk["msg"]
    assert "rejected lxd2 (az2): unhealthy: backing machine lxd2 is powered error" in disk["msg"]
    assert schedule_requests(scheduler) == [200]  # only the first lookup asked
    assert [r["allowed"] for r in scheduler.log_records() if r.get("event") == "schedule"] == [["lxd1"]]
    assert run.writes == []
