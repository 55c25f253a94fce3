"""End to end: the collection's ``maas_placement`` lookup asking a real lxd-multi-scheduler.

Two real LXD daemons (``lxd1``, ``lxd2``), the scheduler process reading them, and a maas-sim
whose VM hosts carry the same names (the lookup maps the scheduler's answer back to MAAS VM hosts
by name). MAAS and LXD are made to disagree on purpose: MAAS shows ``lxd2`` busy and ``lxd1``
empty, LXD the other way round. A plan made locally from MAAS and a plan made by the scheduler
from LXD therefore differ, and the test can tell which one the lookup returned. The lookup runs in
``ansible-playbook`` (the integration tests' playbook runner).
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


def scenario():
    """The default scenario with two VM hosts named like the LXD daemons; MAAS shows lxd2 busy."""
    with open(default_scenario_path(), encoding="utf-8") as handle:
        data = copy.deepcopy(yaml.safe_load(handle))
    data["machines"] = []
    data["vm_hosts"] = [
        {"name": name, "zone": zone, "pool": "default", "cores": 16, "memory": 65536,
         "storage_pools": [{"name": "default", "type": "dir", "size": "500G"}],
         "host": {"hostname": name, "ip": f"10.10.0.{11 + index}"},
         "vms": [{"name": "maas-busy", "cores": 12, "memory": 16384, "disk": "50G"}] if name == "lxd2" else []}
        for index, (name, zone) in enumerate(ZONES.items())
    ]
    return data


def lookup_task(sim, **options):
    """A debug task that evaluates the lookup for NAMES with ``options`` (MAAS URL and key included)."""
    options = dict(options, url=sim.url, api_key=sim.api_key)
    arguments = ", ".join([json.dumps(name) for name in NAMES] + [f"{key}={json.dumps(value)}" for key, value in options.items()])
    return {"name": "plan", "ansible.builtin.debug": {"msg": "{{ lookup('lxdcp.maas.maas_placement', %s) }}" % arguments}}


def test_lookup_plans_with_the_scheduler(lxd, start_scheduler, sim_factory, tmp_path):
    lxd1, _lxd2 = lxd.daemons
    lxd1.create("lxd-busy", cpu=4, memory="2GiB")  # LXD shows lxd1 busy
    scheduler = start_scheduler(lxd.hosts(**{name: {"zone": zone} for name, zone in ZONES.items()}),
                                {"cpu_over_commit": 16, "api_keys": [API_KEY]})
    scheduler.session.headers["X-API-Key"] = API_KEY  # the test's own requests
    sim = sim_factory(scenario=scenario())
    playbook = Playbook(sim, tmp_path)
    request = {"cores": 2, "memory": 1024, "strategy": "least-allocated-cpu"}

    local = playbook.run([lookup_task(sim, **request)], auth=False)
    asked = playbook.run([lookup_task(sim, scheduler_url=scheduler.url, scheduler_api_key=API_KEY, **request)], auth=False, verbosity=3)
    assert local.ok and asked.ok, asked.stdout[-3000:] + asked.stderr[-3000:]
    local_plan, plan = local.task("plan")["msg"], asked.task("plan")["msg"]

    # Locally, from MAAS: the first VM goes to lxd1, empty in MAAS.
    assert local_plan["source"] == "maas"
    assert [(p["hostname"], p["vm_host"]) for p in local_plan["placements"]] == [("cp-1", "lxd1"), ("cp-2", "lxd2")]

    # With the scheduler, from LXD: it goes to lxd2, which has the fewest allocated cores in LXD.
    assert plan["source"] == "scheduler"
    assert [(p["hostname"], p["vm_host"], p["zone"]) for p in plan["placements"]] == [("cp-1", "lxd2", "az2"), ("cp-2", "lxd1", "az1")]
    vm_host_ids = {pod["name"]: pod["id"] for pod in sim_objects(sim, "pod")}
    assert [p["vm_host_id"] for p in plan["placements"]] == [vm_host_ids["lxd2"], vm_host_ids["lxd1"]]
    hosts = {h["name"]: h for h in scheduler.request("GET", "/hosts").json()["hosts"]}
    assert (hosts["lxd1"]["used_cores"], hosts["lxd2"]["used_cores"]) == (4, 0)

    # The plan is the scheduler's own answer to the same question, mapped onto MAAS.
    direct = scheduler.schedule(2, 1024, count=2, strategy="least-allocated-cpu", reserve=False)
    assert direct.status_code == 200, direct.text
    answer = direct.json()
    assert [p["vm_host"] for p in plan["placements"]] == [p["host"] for p in answer["placements"]]
    assert [p["reason"] for p in plan["placements"]] == [f"lxd-multi-scheduler: {p['reason']}" for p in answer["placements"]]
    assert [p["score"] for p in plan["placements"]] == [p["score"] for p in answer["placements"]] == [0.0, 4.0]

    # The lookup only asks: nothing reserved on the scheduler, nothing written to MAAS, the key never shown.
    reservations = scheduler.request("GET", "/reservations").json()["reservations"]
    assert reservations == []
    assert asked.writes == [] and local.writes == []
    assert "maas_placement: cp-1 -> lxd2 in az2: lxd-multi-scheduler: " in asked.stdout  # -vvv explains the plan
    assert API_KEY not in asked.stdout + asked.stderr
    requests = [r for r in scheduler.log_records() if r.get("event") == "http_request" and r["path"] == "/schedule"]
    assert [r["status"] for r in requests] == [200, 200]  # the lookup's question, then the direct one

    # What the scheduler refuses, the lookup reports with the scheduler's reasons.
    full = playbook.run([lookup_task(sim, scheduler_url=scheduler.url, scheduler_api_key=API_KEY, cores=64, memory=1024)], auth=False)
    wrong_key = playbook.run([lookup_task(sim, scheduler_url=scheduler.url, scheduler_api_key="not-the-key", **request)], auth=False)
    assert not full.ok and not wrong_key.ok
    message = full.task("plan")["msg"]
    assert "refused the request: 409 cannot place 2 instances (64 cores" in message, message
    assert "rejected lxd1: no room: needs 64 cores" in message and "rejected lxd2: no room: needs 64 cores" in message
    assert "refused the request: 401 invalid API key; check scheduler_api_key" in wrong_key.task("plan")["msg"]
    assert "not-the-key" not in wrong_key.stdout + wrong_key.stderr
