"""maas_lxd_vm through ansible-playbook against maas-sim: every state, idempotency, check and diff, drift, static IPs."""

from __future__ import annotations

import base64

from ansible_collections.lxdcp.maas.tests.integration.modules.vm_tasks import vm_task
from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import sim_ips, sim_machines, sim_objects


def pod_used(sim, name):
    """(used cores, used memory) of a VM host, summed from the simulator's VM records."""
    pod = next(p for p in sim_objects(sim, "pod") if p["name"] == name)
    vms = [v for v in sim_objects(sim, "vm") if v["pod_id"] == pod["id"]]
    return sum(v["cores"] for v in vms), sum(v["memory"] for v in vms)


def test_present_composes_once_and_the_rerun_sends_no_write(playbook, maas_sim):
    first = playbook.run(vm_task())
    assert first.ok, first.result.get("msg")
    result = first.result
    assert result["changed"] is True
    machine = result["machine"]
    assert machine["status"] == "Ready" and machine["cores"] == 2 and machine["memory"] == 4096
    assert machine["pool"] == "control-plane" and machine["vm_host"]["name"].endswith("-b")
    assert result["provider_id"] == "maas-lxd:///%s/%s" % (machine["zone"], machine["system_id"])
    assert {"lxdcp-managed", "lxdcp-cluster-prod"} <= set(machine["tags"])
    assert any(w["path"].endswith("/vm-hosts/%d/" % machine["vm_host"]["id"]) and w["op"] == "compose" for w in first.writes)
    assert len(sim_machines(maas_sim, "cp-1")) == 1

    second = playbook.run(vm_task())
    assert second.ok and second.result["changed"] is False
    assert second.writes == [], second.write_summary()
    assert second.result["machine"]["system_id"] == machine["system_id"]

    # The provider ID is computed, never stored: asking for CAPMAAS's scheme for VMs changes the answer, not MAAS.
    capmaas = playbook.run(vm_task(vm_provider_id_scheme="maas"), check=True)
    assert capmaas.ok and capmaas.result["changed"] is False and capmaas.writes == [], capmaas.write_summary()
    assert capmaas.result["provider_id"] == capmaas.result["machine"]["provider_id"] == \
        "maas:///%s/%s" % (machine["zone"], machine["system_id"])


def test_check_mode_sends_no_write_and_predicts_the_run(playbook, maas_sim):
    checked = playbook.run(vm_task(state="deployed"), check=True, diff=True)
    assert checked.ok and checked.result["changed"] is True
    assert checked.writes == [], checked.write_summary()
    assert sim_machines(maas_sim, "cp-1") == []
    predicted = checked.result["placement"]["placements"][0]["host"]
    assert checked.result["actions"][0].startswith("would compose cp-1 on %s" % predicted)
    assert checked.result["diff"]["before"] == {} and checked.result["diff"]["after"]["vm_host"] == predicted

    real = playbook.run(vm_task(state="deployed"), diff=True)
    assert real.ok and real.result["machine"]["vm_host"]["name"] == predicted
    # The same steps, and the same machine: its VM host's tags and pool are the VM's (MAAS's compose gives them).
    assert checked.result["actions"] == ["would " + action for action in real.result["actions"]]
    after = dict(real.result["diff"]["after"])
    assert after.pop("ip_addresses") and checked.result["diff"]["after"].pop("ip_addresses") == []  # MAAS's, at deployment
    assert checked.result["diff"] == dict(real.result["diff"], after=after)


def test_diff_shows_before_and_after(playbook):
    created = playbook.run(vm_task(), diff=True)
    diff = created.result["diff"]
    assert diff["before"] == {}
    assert diff["after"]["hostname"] == "cp-1" and diff["after"]["status"] == "Ready"
    assert diff["after"]["cores"] == 2 and diff["after"]["memory"] == 4096
    removed = playbook.run(vm_task(state="absent"), diff=True)
    assert removed.result["diff"]["before"]["hostname"] == "cp-1" and removed.result["diff"]["after"] == {}


def test_deployed_then_idempotent(playbook, maas_sim):
    user_data = "#cloud-config\nruncmd: [echo control-plane]\n"
    first = playbook.run(vm_task(state="deployed", distro_series="jammy", osystem="ubuntu", user_data=user_data))
    assert first.ok, first.result.get("msg")
    machine = first.result["machine"]
    assert machine["status"] == "Deployed" and machine["distro_series"] == "jammy" and machine["osystem"] == "ubuntu"
    record = sim_machines(maas_sim, "cp-1")[0]
    assert base64.b64decode(record["user_data"]).decode() == user_data
    again = playbook.run(vm_task(state="deployed", distro_series="jammy", osystem="ubuntu", user_data=user_data))
    assert again.ok and again.result["changed"] is False and again.writes == [], again.write_summary()


def test_released_then_idempotent(playbook):
    playbook.run(vm_task(state="deployed"))
    released = playbook.run(vm_task(state="released"))
    assert released.ok and released.result["changed"] is True
    assert released.result["machine"]["status"] == "Ready"
    assert released.result["actions"] == ["release cp-1 (Deployed)"]
    again = playbook.run(vm_task(state="released"))
    assert again.ok and again.result["changed"] is False and again.writes == [], again.write_summary()
    checked = playbook.run(vm_task(state="released"), check=True)
    assert checked.ok and checked.result["changed"] is False and checked.writes == [], checked.write_summary()


def test_released_in_check_mode_sends_no_write(playbook, maas_sim):
    playbook.run(vm_task(state="deployed"))
    checked = playbook.run(vm_task(state="released"), check=True, diff=True)
    assert checked.ok and checked.result["changed"] is True, checked.result.get("msg")
    assert checked.result["actions"] == ["would release cp-1 (Deployed)"]
    assert checked.result["diff"]["before"]["status"] == "Deployed" and checked.result["diff"]["after"]["status"] == "Ready"
    assert checked.writes == [], checked.write_summary()
    assert sim_machines(maas_sim, "cp-1")[0]["status"] == 6  # still Deployed


def test_absent_deletes_frees_capacity_and_is_idempotent(playbook, maas_sim):
    created = playbook.run(vm_task(state="deployed", interfaces=[{"ip": "10.10.0.41"}]))
    host = created.result["machine"]["vm_host"]["name"]
    used_with_vm = pod_used(maas_sim, host)
    removed = playbook.run(vm_task(state="absent"))
    assert removed.ok and removed.result["changed"] is True, removed.result.get("msg")
    assert removed.result["machine"] is None and removed.result["capacity_restored"] is True
    assert removed.result["released_ips"] == []
    assert sim_machines(maas_sim, "cp-1") == []
    assert pod_used(maas_sim, host) == (used_with_vm[0] - 2, used_with_vm[1] - 4096)
    assert sim_ips(maas_sim, "10.10.0.41") == []
    again = playbook.run(vm_task(state="absent"))
    assert again.ok and again.result["changed"] is False and again.writes == [], again.write_summary()


def test_absent_in_check_mode_sends_no_write(playbook, maas_sim):
    playbook.run(vm_task())
    checked = playbook.run(vm_task(state="absent"), check=True)
    assert checked.result["changed"] is True and checked.writes == [], checked.write_summary()
    assert len(sim_machines(maas_sim, "cp-1")) == 1


def test_drift_fails_without_writes_and_recreate_replaces_the_vm(playbook, maas_sim):
    first = playbook.run(vm_task())
    drifted = playbook.run(vm_task(cores=4, memory="8G"), diff=True)
    assert not drifted.ok
    result = drifted.result
    assert "cp-1 differs from the task: cores is 2, wanted 4; memory is 4096, wanted 8192" in result["msg"]
    assert [d["field"] for d in result["drift"]] == ["cores", "memory"]
    assert drifted.writes == [], drifted.write_summary()
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert (before["cores"], before["memory"]) == (2, 4096)
    assert (after["cores"], after["memory"]) == (4, 8192) and after["hostname"] == "cp-1"
    assert after["vm_host"] == before["vm_host"] and after["disks"] == before["disks"]

    recreated = playbook.run(vm_task(cores=4, memory="8G", recreate=True))
    assert recreated.ok, recreated.result.get("msg")
    machine = recreated.result["machine"]
    assert machine["cores"] == 4 and machine["system_id"] != first.result["machine"]["system_id"]
    assert len(sim_machines(maas_sim, "cp-1")) == 1


def test_static_ip_is_sticky_across_release_and_redeploy(playbook, maas_sim):
    task = vm_task(state="deployed", interfaces=[{"ip": "10.10.0.42"}])
    first = playbook.run(task)
    assert first.ok, first.result.get("msg")
    links = first.result["machine"]["interfaces"][0]["links"]
    assert [(link["mode"], link["ip_address"]) for link in links] == [("static", "10.10.0.42")]
    assert first.result["machine"]["gateway"] == "10.10.0.1" and first.result["machine"]["dns_servers"] == ["10.10.0.2"]
    released = playbook.run(vm_task(state="released", interfaces=[{"ip": "10.10.0.42"}]))
    assert released.result["machine"]["ip_addresses"] == ["10.10.0.42"]
    redeployed = playbook.run(task)
    assert redeployed.ok and redeployed.result["machine"]["ip_addresses"] == ["10.10.0.42"]
    assert [a for a in redeployed.result["actions"] if "static" in a] == []
    assert [record["alloc_type"] for record in sim_ips(maas_sim, "10.10.0.42")] == [1]  # STICKY


def test_three_replicas_spread_over_the_zones(playbook):
    tasks = [vm_task(hostname="cp-%d" % i, zone=["az1", "az2", "az3"]) for i in (1, 2, 3)]
    run = playbook.run(tasks)
    assert run.ok, [r.get("msg") for r in run.results]
    assert sorted(r["machine"]["zone"] for r in run.results) == ["az1", "az2", "az3"]


def test_vm_host_and_storage_pool_by_name(playbook):
    run = playbook.run(vm_task(vm_host="lxd-az1-b", disks=[{"size": "30G", "pool": "default"}]))
    assert run.ok, run.result.get("msg")
    machine = run.result["machine"]
    assert machine["vm_host"]["name"] == "lxd-az1-b" and machine["zone"] == "az1"
    assert machine["disks"][0]["size"] == 30 * 1024 ** 3


def test_vvv_returns_maas_log_without_secrets(playbook, maas_sim):
    run = playbook.run(vm_task(), verbosity=3)
    log = run.result["maas_log"]
    assert any("compose cp-1 on" in line for line in log)
    assert any(line.startswith("+") and "placement:" in line for line in log)
    text = run.stdout + run.stderr + repr(run.results)
    assert "sim-secret" not in text and maas_sim.api_key not in text


def test_vmhost_info_sees_the_new_vm(playbook):
    before = playbook.run({"lxdcp.maas.maas_vmhost_info": {"name": ["lxd-az1-b"]}}).result["vm_hosts"][0]
    playbook.run(vm_task(vm_host="lxd-az1-b"))
    after = playbook.run({"lxdcp.maas.maas_vmhost_info": {"name": ["lxd-az1-b"]}}).result["vm_hosts"][0]
    assert after["used"]["cores"] == before["used"]["cores"] + 2
    assert after["free"]["memory"] == before["free"]["memory"] - 4096
