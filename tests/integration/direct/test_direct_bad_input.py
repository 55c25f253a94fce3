"""maas_lxd_vm in direct mode given what cannot work: a clear error that says what is wrong and what to do, and nothing
changed - no MAAS write, no LXD write, no instance, no trusted certificate.

LXD hosts are broken the way users break them: an endpoint where nothing listens, a client certificate LXD does not
trust, a project, storage pool or bridge that does not exist, an instance of someone else's with the VM's name, and
``lxd_via: vm-host`` against MAAS 4.0. One broken host of three is passed over (with a warning); all of them broken is
an error naming each host and its trouble. MAAS writes come from maas-sim's request log, LXD writes from the daemons'
debug logs (``directsite.py``).
"""

from __future__ import annotations

import pytest

from lxdprocs import free_port, make_certificate  # pylint: disable=import-error

from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import sim_machines

HOSTS = ("lxd-az1-a", "lxd-az2-a", "lxd-az3-a")


def dead_url():
    """An HTTPS URL on 127.0.0.1 where nothing listens (a port that was free a moment ago)."""
    return "https://127.0.0.1:%d" % free_port()


def assert_nothing_changed(direct, run, mark, instances=None):
    """No MAAS write, no LXD write by anyone, no instance (or exactly ``instances``), no certificate trusted."""
    assert run.writes == [], run.write_summary()
    assert direct.lxd_writes(mark) == []
    assert direct.instances() == (instances or {host: [] for host in HOSTS})
    assert not any(direct.trusted().values())
    assert sim_machines(direct.sim, "cp-1") == []


# -- one LXD host unusable: the VM goes to another one --------------------------------------------------------------
#
# Each way of breaking an lxd_hosts entry: ``(entry, tmp_path) -> (broken entry, what the warning says about it)``.

def unreachable(entry, _tmp):
    url = dead_url()
    return dict(entry, host=url), "Cannot reach LXD at %s for GET /1.0/instances/cp-1?project=default" % url


def untrusted(entry, tmp):
    cert, key = make_certificate(str(tmp), "stranger")
    return (dict(entry, client_cert=cert, client_key=key),
            "403 Forbidden: not authorized. LXD does not trust the client certificate %s: add it to LXD's trust store on "
            "the LXD host (`lxc config trust add %s`" % (cert, cert))


def without_project(entry, _tmp):
    return dict(entry, project="nosuch"), "has no project 'nosuch': create it on the LXD host (`lxc project create nosuch`)"


def without_bridge(entry, _tmp):
    return (dict(entry, bridge="nosuch"),
            "has no network interface 'nosuch' to attach a bridged NIC to: create the bridge on the LXD host")


@pytest.mark.parametrize("breaking", [unreachable, untrusted, without_project, without_bridge], ids=lambda f: f.__name__)
def test_an_unusable_lxd_host_is_passed_over_with_a_warning(direct, playbook, vm_task, tmp_path, breaking):
    entries = direct.entries
    entries[0], trouble = breaking(entries[0], tmp_path)
    assert entries[0]["name"] == "lxd-az1-a"  # the host placement would choose first (most free, first name)
    mark = direct.mark()
    run = playbook.run(vm_task(lxd_hosts=entries, retries=1, state="deployed", interfaces=[{"ip": "10.10.0.101"}]),
                       verbosity=3)
    assert run.ok, run.result.get("msg")
    host = run.result["machine"]["vm_host"]["name"]
    assert host == "lxd-az2-a" and run.result["machine"]["status"] == "Deployed"
    assert {name: names for name, names in direct.instances().items() if names} == {host: [("default", "cp-1")]}
    assert {write.split()[1] for write in direct.lxd_writes(mark)} == {host}
    warnings = [w for w in run.result.get("warnings", []) if w.startswith("LXD host lxd-az1-a: ")]
    assert len(warnings) == 1 and trouble in warnings[0], run.result.get("warnings")
    rejected = {r["host"]: r for r in run.result["placement"]["rejected"]}
    assert rejected["lxd-az1-a"]["code"] == "unhealthy" and trouble in rejected["lxd-az1-a"]["reason"]
    if breaking is unreachable:
        # Asked once in the run: one request and its one retry (retries: 1), not a retry budget per read.
        port = entries[0]["host"].rsplit(":", 1)[1]
        attempts = [line for line in run.result["maas_log"] if "port=%s)" % port in line and "(attempt " in line]
        assert len(attempts) == 2, attempts


# -- every LXD host unusable, or the VM's storage pool nowhere: an error naming each host -------------------------


def every_host(breaking):
    """Task arguments that break every entry with ``breaking`` (a function above), and the message part per host."""

    def build(direct, tmp):
        broken = [breaking(entry, tmp) for entry in direct.entries]
        return dict(lxd_hosts=[entry for entry, _trouble in broken]), [trouble for _entry, trouble in broken]

    build.__name__ = "every_host_" + breaking.__name__
    return build


def project_option(direct, _tmp):
    return dict(project="nosuch"), ["LXD at %s has no project 'nosuch': create it on the LXD host (`lxc project create nosuch`) "
                                    "or name one that `lxc project list` shows." % d.url for d in direct.hosts.values()]


def lxd_bridge_option(direct, _tmp):
    entries = [dict((k, v) for k, v in entry.items() if k != "bridge") for entry in direct.entries]
    return dict(lxd_hosts=entries, lxd_bridge="nosuch"), [
        "The LXD host at %s has no network interface 'nosuch' to attach a bridged NIC to: create the bridge on the LXD host "
        "(for example `ip link add nosuch type bridge`, or `lxc network create nosuch`)" % d.url for d in direct.hosts.values()]


@pytest.mark.parametrize("breaking", [every_host(unreachable), every_host(untrusted), project_option,
                                      every_host(without_bridge), lxd_bridge_option], ids=lambda f: f.__name__)
def test_no_usable_lxd_host_is_an_error_naming_each_host(direct, playbook, vm_task, tmp_path, breaking):
    overrides, troubles = breaking(direct, tmp_path)
    mark = direct.mark()
    run = playbook.run(vm_task(retries=1, state="deployed", **overrides))
    assert not run.ok
    message = run.result["msg"]
    assert message.startswith("MAAS has no VM hosts (it answers 410 Gone: MAAS 4.0), so the VMs are created on LXD directly; "
                              "no LXD host can take cp-1: none of the 3 LXD host(s) can be used. lxd-az1-a: "), message
    for host, trouble in zip(HOSTS, troubles):
        assert "%s: " % host in message and trouble in message.split("%s: " % host, 1)[1], (host, trouble, message)
    assert_nothing_changed(direct, run, mark)


def test_a_storage_pool_no_host_has_is_an_error(direct, playbook, vm_task):
    mark = direct.mark()
    run = playbook.run(vm_task(disks=[{"size": "20G"}, {"size": "10G", "pool": "nosuch"}]))
    assert not run.ok
    assert run.result["msg"].endswith(
        "storage pool 'nosuch' of disks[1] exists on none of the LXD hosts (lxd-az1-a, lxd-az2-a, lxd-az3-a; their pools: "
        "default): create it on the LXD hosts (`lxc storage create nosuch <driver>`) or name one of theirs."), run.result["msg"]
    assert_nothing_changed(direct, run, mark)


# -- an instance with the VM's name that is not this task's --------------------------------------------------------


@pytest.mark.parametrize("marks, whose", [
    ({}, "lxdcp.maas did not create it (it has no user.lxdcp.managed mark), so it is left alone and nothing was changed: "
         "choose another hostname, or remove or rename that instance on lxd-az3-a if it is not needed."),
    ({"user.lxdcp.managed": "true", "user.lxdcp.cluster": "other", "user.lxdcp.hostname": "cp-1"},
     "lxdcp.maas made it for cluster other, so it is left alone and nothing was changed: remove it with that cluster's "
     "task (state: absent), or choose another hostname."),
], ids=["foreign", "other-cluster"])
def test_an_instance_of_the_vms_name_that_is_not_ours_is_refused_and_left_alone(direct, playbook, vm_task, marks, whose):
    daemon = direct.hosts["lxd-az3-a"]  # not where the VM would go: the name is taken on any host
    daemon.lxc("init", "--empty", "--vm", "cp-1", *[arg for key, value in marks.items() for arg in ("-c", "%s=%s" % (key, value))])
    before = direct.instance("lxd-az3-a", "cp-1")
    instances = direct.instances()
    mark = direct.mark()
    expected = "Refusing to create cp-1: LXD host lxd-az3-a already has an instance named cp-1 (project default), and " + whose
    for check in (True, False):
        run = playbook.run(vm_task(state="deployed"), check=check)
        assert not run.ok and run.result["msg"] == expected, run.result["msg"]
        assert_nothing_changed(direct, run, mark, instances)
    gone = playbook.run(vm_task(state="absent"))  # no machine: only an instance of ours would be deleted
    assert gone.ok and gone.result["changed"] is False and gone.result["actions"] == [], gone.result
    assert_nothing_changed(direct, gone, mark, instances)
    assert direct.instance("lxd-az3-a", "cp-1") == before


# -- lxd_via: vm-host on MAAS 4.0 ----------------------------------------------------------------------------------


def test_vm_host_mode_on_maas_40_fails_saying_to_use_direct_mode(direct, playbook, vm_task):
    mark = direct.mark()
    run = playbook.run(vm_task(lxd_via="vm-host", state="deployed"))
    assert not run.ok
    message = run.result["msg"]
    assert message.startswith("lxd_via is vm-host, but this MAAS has no VM hosts to compose cp-1 on: set lxd_via: direct (or "
                              "auto) to have the VM created on the LXD hosts and registered in MAAS. Nothing was changed. "
                              "MAAS refused GET /vm-hosts/: 410 Gone"), message
    assert run.result["error"]["status"] == 410
    assert [(r["method"], r["path"].rsplit("/api/2.0", 1)[1], r["status"]) for r in run.requests] == [
        ("GET", "/machines/", 200), ("GET", "/vm-hosts/", 410)]
    assert direct.lxd_requests(mark, collection_only=True) == []
    assert_nothing_changed(direct, run, mark)
