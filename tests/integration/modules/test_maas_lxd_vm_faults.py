"""maas_lxd_vm when MAAS misbehaves (maas-sim fault injection): no duplicate VM, no orphan address, clear failures."""

from __future__ import annotations

import re

from ansible_collections.lxdcp.maas.tests.integration.modules import vm_tasks
from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import sim_ips, sim_machines

# In pool control-plane the most-free placement picks lxd-az3-b (24 cores, nothing used) first.
VM = {"hostname": "cp-1", "cluster": "prod", "cores": 2, "memory": "4G", "pool": "control-plane"}
FIRST_CHOICE = "lxd-az3-b"


def vm_task(**overrides):
    return vm_tasks.vm_task(VM, **overrides)


def compose_calls(run):
    return [(e["status"], e["path"]) for e in run.requests if e.get("op") == "compose"]


def test_503_storm_is_ridden_out_without_duplicates(playbook, maas_sim):
    maas_sim.faults(fail_next=[
        {"count": 3, "status": 503, "method": "POST", "op": "compose", "retry_after": 1},
        {"count": 2, "status": 503, "method": "GET", "path": "/machines/$", "retry_after": 1},
    ])
    run = playbook.run(vm_task(), verbosity=3)
    assert run.ok, run.result.get("msg")
    assert [status for status, _path in compose_calls(run)] == [503, 503, 503, 200]
    assert len(sim_machines(maas_sim, "cp-1")) == 1
    log = run.result["maas_log"]
    assert any("retry 1/5 of POST /vm-hosts/" in line and "(Retry-After 1 s)" in line for line in log)
    assert any("retry 3/5 of POST /vm-hosts/" in line for line in log)
    assert sum("verified that the earlier attempt did not take effect" in line for line in log) == 3


def test_409_with_retry_after_is_retried(playbook, maas_sim):
    maas_sim.faults(fail_next=[{"count": 2, "status": 409, "method": "POST", "op": "compose", "retry_after": 1}])
    run = playbook.run(vm_task())
    assert run.ok, run.result.get("msg")
    assert [status for status, _path in compose_calls(run)] == [409, 409, 200]


def test_spent_retry_budget_fails_clearly_and_creates_nothing(playbook, maas_sim):
    maas_sim.faults(fail_next=[{"count": 50, "status": 503, "method": "POST", "op": "compose", "retry_after": 1}])
    run = playbook.run(vm_task(retries=2))
    assert not run.ok
    message = run.result["msg"]
    assert "Gave up on POST /vm-hosts/" in message and "after 3 attempt(s)" in message
    assert "503 Service Unavailable" in message
    assert run.result["error"]["type"] == "MaasRetriesExhausted"
    assert sim_machines(maas_sim, "cp-1") == []
    assert all(e.get("op") == "compose" and e["status"] == 503 for e in run.writes), run.write_summary()


def test_dropped_compose_answer_is_verified_not_repeated(playbook, maas_sim):
    maas_sim.faults(drop_response=[{"count": 1, "method": "POST", "op": "compose"}])
    run = playbook.run(vm_task(interfaces=[{"ip": "10.10.0.43"}]), verbosity=3)
    assert run.ok, run.result.get("msg")
    assert len(compose_calls(run)) == 1
    assert any("the earlier attempt took effect (verified)" in line for line in run.result["maas_log"])
    assert len(sim_machines(maas_sim, "cp-1")) == 1
    assert [ip["alloc_type"] for ip in sim_ips(maas_sim, "10.10.0.43")] == [1]


def test_dropped_deploy_answer_is_verified_not_repeated(playbook, maas_sim):
    playbook.run(vm_task())
    maas_sim.faults(drop_response=[{"count": 1, "method": "POST", "op": "deploy"}])
    run = playbook.run(vm_task(state="deployed"))
    assert run.ok and run.result["machine"]["status"] == "Deployed", run.result.get("msg")
    assert len([e for e in run.requests if e.get("op") == "deploy"]) == 1


def test_host_failing_mid_compose_moves_to_the_next_host(playbook, maas_sim):
    maas_sim.faults(compose_fail={FIRST_CHOICE: "LXD: instance creation failed (injected)"})
    run = playbook.run(vm_task(interfaces=[{"ip": "10.10.0.44"}]))
    assert run.ok, run.result.get("msg")
    attempts = run.result["placement"]["attempts"]
    assert attempts[0]["host"] == FIRST_CHOICE and attempts[0]["ok"] is False
    assert "instance creation failed" in attempts[0]["error"]
    assert attempts[1]["ok"] is True and run.result["machine"]["vm_host"]["name"] == attempts[1]["host"]
    assert len(sim_machines(maas_sim, "cp-1")) == 1
    # The failed attempt left no address behind: the only record is the VM's sticky one.
    assert [ip["alloc_type"] for ip in sim_ips(maas_sim, "10.10.0.44")] == [1]


def test_every_host_failing_reports_each_attempt(playbook, maas_sim):
    maas_sim.faults(compose_fail={name: "broken %s" % name for name in ("lxd-az1-b", "lxd-az2-b", "lxd-az3-b")})
    run = playbook.run(vm_task(interfaces=[{"ip": "10.10.0.45"}]))
    assert not run.ok
    message = run.result["msg"]
    assert "cp-1 could not be composed on 3 VM host(s) (max_hosts)" in message
    for name in ("lxd-az1-b", "lxd-az2-b", "lxd-az3-b"):
        assert "%s: compose refused (503): Unable to compose machine because: broken %s" % (name, name) in message
    assert sim_machines(maas_sim, "cp-1") == []
    assert sim_ips(maas_sim, "10.10.0.45") == []


def test_offline_host_is_avoided_by_the_placement(playbook, maas_sim):
    maas_sim.faults(vmhost_offline=[FIRST_CHOICE])
    run = playbook.run(vm_task())
    assert run.ok, run.result.get("msg")
    assert run.result["machine"]["vm_host"]["name"] != FIRST_CHOICE
    rejected = {r["host"]: r for r in run.result["placement"]["rejected"]}
    assert rejected[FIRST_CHOICE]["code"] == "unhealthy" and "powered error" in rejected[FIRST_CHOICE]["reason"]
    assert compose_calls(run) and all(FIRST_CHOICE not in path for _status, path in compose_calls(run))


def test_vm_hosts_gone_fails_clearly_without_writes(playbook, maas_sim):
    maas_sim.faults(vmhost_gone=True)
    run = playbook.run([vm_task(lxd_via="vm-host")])
    assert not run.ok
    assert "no longer supports VM hosts" in run.result["msg"] and "removed from MAAS after 3.8" in run.result["msg"]
    assert run.writes == [], run.write_summary()
    info = playbook.run({"lxdcp.maas.maas_vmhost_info": {"lxd_via": "vm-host"}})
    assert not info.ok and "410" in info.result["msg"] and info.result["vm_hosts"] == []
    # lxd_via auto goes to direct mode, which needs LXD hosts: this scenario tags none, and says so before any write.
    auto = playbook.run([vm_task()])
    assert not auto.ok and "no LXD host" in auto.result["msg"] and "lxd-host" in auto.result["msg"], auto.result["msg"]
    assert auto.writes == [], auto.write_summary()


def test_failed_deployment_is_reported_then_retried(playbook, maas_sim):
    playbook.run(vm_task())
    maas_sim.faults(deploy_fail=["cp-1"])
    failed = playbook.run(vm_task(state="deployed"))
    assert not failed.ok
    assert "reached 'Failed deployment'" in failed.result["msg"]
    maas_sim.clear_faults()
    retried = playbook.run(vm_task(state="deployed"))
    assert retried.ok, retried.result.get("msg")
    assert retried.result["actions"][0].startswith("release cp-1 after its failed deployment")
    assert retried.result["machine"]["status"] == "Deployed"


def test_failed_commissioning_fails_over_and_leaves_nothing(playbook, maas_sim):
    """Commissioning that fails on every host tried: each VM deleted again, the task names every host and MAAS's reason."""
    maas_sim.faults(commission_fail=["cp-1"])
    run = playbook.run(vm_task(max_hosts=2))
    assert not run.ok
    message = run.result["msg"]
    assert "cp-1 could not be composed on 2 VM host(s) (max_hosts)" in message
    assert message.count("commissioning failed") == 2 and "Commissioning failed (maas-sim commission_fail fault)" in message
    assert [f["new_host"] for f in run.result["failover"]][:1] != [None] and len(run.result["failover"]) == 2
    assert sim_machines(maas_sim, "cp-1") == [] and run.result["created"] is False


def test_failed_tagging_after_compose_deletes_the_vm_again(playbook, maas_sim):
    maas_sim.faults(fail_next=[{"count": 1, "status": 503, "method": "POST", "path": "/tags/lxdcp-cluster-prod/$",
                                "op": "update_nodes"}])
    run = playbook.run(vm_task(retries=0))
    assert not run.ok
    message = run.result["msg"]
    assert re.match(r"Composed cp-1 \(\w+\) but could not tag it: Gave up on POST /tags/lxdcp-cluster-prod/\?op=update_nodes "
                    r"after 1 attempt\(s\)", message), message
    assert message.endswith("It was deleted again; run the task again.")
    assert run.result["changed"] is True and run.result["error"]["type"] == "MaasRetriesExhausted"
    assert sim_machines(maas_sim, "cp-1") == []
    again = playbook.run(vm_task())
    assert again.ok and again.result["changed"] is True, again.result.get("msg")
    assert len(sim_machines(maas_sim, "cp-1")) == 1


def test_vm_left_untagged_is_refused_by_absent_and_adopted_by_present(playbook, maas_sim):
    maas_sim.faults(fail_next=[
        {"count": 1, "status": 503, "method": "POST", "path": "/tags/$"},
        {"count": 1, "status": 503, "method": "DELETE", "path": "/machines/"},
    ])
    failed = playbook.run(vm_task(retries=0))
    assert not failed.ok
    system_id = sim_machines(maas_sim, "cp-1")[0]["system_id"]
    assert ("Composed cp-1 (%s) but could not tag it: Gave up on POST /tags/ after 1 attempt(s)" % system_id) in failed.result["msg"]
    assert ("Rolling back failed too (Gave up on DELETE /machines/%s/ after 1 attempt(s)" % system_id) in failed.result["msg"]
    assert "delete it in MAAS, or run the task again with state: present, which adopts it." in failed.result["msg"]

    refused = playbook.run(vm_task(state="absent"))
    assert not refused.ok and "Refusing to manage cp-1 (%s)" % system_id in refused.result["msg"]
    assert "run the task with state: present first to adopt it, then with state: absent" in refused.result["msg"]
    assert refused.writes == [], refused.write_summary()

    adopted = playbook.run(vm_task())
    assert adopted.ok and adopted.result["machine"]["system_id"] == system_id, adopted.result.get("msg")
    assert adopted.result["actions"] == ["tag cp-1 lxdcp-cluster-prod", "tag cp-1 lxdcp-managed"]
    assert any("lacks the ownership tags, but it is what a run of this task leaves when it fails between compose and tagging"
               in warning for warning in adopted.result["warnings"])
    assert [e for e in adopted.writes if e.get("op") == "compose"] == []
    removed = playbook.run(vm_task(state="absent"))
    assert removed.ok and removed.result["changed"] is True, removed.result.get("msg")
    assert sim_machines(maas_sim, "cp-1") == []
