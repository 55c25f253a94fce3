"""LxdClient at the HTTP level: settings, envelopes, errors, retries, operations, pinning, and MAAS's VM definition."""

from __future__ import annotations

import socket

import pytest
import requests

from ansible_collections.lxdcp.maas.plugins.module_utils import ownership
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd import definitions, errors, transport, waiters
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.api import LxdClient
from ansible_collections.lxdcp.maas.tests.unit.plugins.fakehttp import FakeMaas, TLSServer, dropped, refused, self_signed_cert
from ansible_collections.lxdcp.maas.tests.unit.plugins.fakelxd import (
    KEY_MARKER,
    URL,
    async_answer,
    error,
    lxd_client,
    operation,
    sync,
)

SERVER = {"api_extensions": ["projects", "virtual-machines", "custom_block_volumes"], "auth": "trusted",
          "environment": {"server_version": "5.0.2", "driver": "lxc | qemu", "server_name": "lxd1"}}
MARKS = ownership.instance_marks("prod", "cp-1")


@pytest.fixture
def fake():
    return FakeMaas()


@pytest.fixture
def client(fake, tmp_path):
    return lxd_client(fake, tmp_path)


def definition(**overrides):
    settings = dict(name="cp-1", cores=2, memory_mib=4096, disks=[20 * 1024 ** 3], nics=["br0"], storage_pool="default",
                    config_keys=MARKS)
    settings.update(overrides)
    return definitions.vm_definition(**settings)


def instance(name="cp-1", config=None, status="Stopped"):
    return {"name": name, "type": "virtual-machine", "status": status, "status_code": 102,
            "config": dict(MARKS if config is None else config, **{"volatile.eth0.hwaddr": "00:16:3e:aa:bb:cc"}),
            "devices": {"eth0": {"type": "nic", "nictype": "bridged", "parent": "br0", "name": "eth0"}}}


def script_create(fake, op_id="op1", created=None):
    fake.add("GET", "/1.0/networks/br0", json=sync({"name": "br0", "type": "bridge", "managed": False}))
    fake.add("POST", "/1.0/instances", status=202, json=async_answer(op_id))
    fake.add("GET", "/1.0/operations/%s/wait" % op_id, json=sync(operation(op_id, 200)))
    fake.add("GET", "/1.0/instances/cp-1", json=sync(created or instance()))


# -- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("given, normalized", [
    ("https://lxd1.example.com:8443", "https://lxd1.example.com:8443"),
    ("https://lxd1.example.com", "https://lxd1.example.com:8443"),
    ("lxd1.example.com:9443", "https://lxd1.example.com:9443"),
    ("https://10.0.0.5:8443/1.0/", "https://10.0.0.5:8443"),
    ("https://[fd00::5]", "https://[fd00::5]:8443"),
])
def test_urls_are_normalized(given, normalized):
    assert transport.normalize_url(given) == normalized


@pytest.mark.parametrize("given, says", [
    ("http://lxd1:8443", "HTTPS only"),
    ("", "missing"),
    ("https://lxd1:8443/other", "has a path"),
    ("https://user:pw@lxd1:8443", "must not carry credentials"),
    ("https://lxd1:99999", "invalid port"),
])
def test_bad_urls_are_refused_before_any_request(given, says):
    with pytest.raises(errors.LxdConfigError) as info:
        transport.normalize_url(given)
    assert says in str(info.value)


def test_certificate_files_are_checked_before_any_request(tmp_path):
    cert, key = self_signed_cert(tmp_path)
    with pytest.raises(errors.LxdConfigError, match="client_cert is missing"):
        LxdClient(URL, None, key)
    with pytest.raises(errors.LxdConfigError, match="client_key .*/nope.key does not exist"):
        LxdClient(URL, cert, str(tmp_path / "nope.key"))
    with pytest.raises(errors.LxdConfigError, match="not both"):
        LxdClient(URL, cert, key, server_cert=cert, ca_path=cert)
    with pytest.raises(errors.LxdConfigError, match="not a PEM certificate") as info:
        LxdClient(URL, cert, key, server_cert=key)
    # A key given where a certificate belongs is named by path, never shown.
    assert KEY_MARKER not in str(info.value)
    with pytest.raises(errors.LxdConfigError, match="retries must be 0 or more"):
        LxdClient(URL, cert, key, retries=-1)
    # A key given as its PEM text instead of a path is not repeated in the message.
    with open(key, encoding="utf-8") as handle:
        pem = handle.read()
    with pytest.raises(errors.LxdConfigError, match=r"client_key \(PEM text, not a file path\) does not exist") as info:
        LxdClient(URL, cert, pem)
    assert KEY_MARKER not in str(info.value)


@pytest.mark.parametrize("given", ["http://admin:pw@lxd1:8443", "https://admin:pw@lxd1:99999", "https://admin:pw@lxd1:8443/x"])
def test_a_bad_url_is_shown_without_its_credentials(given):
    with pytest.raises(errors.LxdConfigError) as info:
        transport.normalize_url(given)
    assert "admin" not in str(info.value) and "pw" not in str(info.value)


def test_fingerprint_is_the_sha256_of_the_certificate(tmp_path):
    cert, _key = self_signed_cert(tmp_path)
    fingerprint = transport.certificate_fingerprint(cert)
    assert len(fingerprint) == 64 and int(fingerprint, 16) >= 0
    assert LxdClient(URL, cert, _key, server_cert=cert).fingerprint == fingerprint


def test_requests_carry_the_client_certificate_and_json(fake, client):
    fake.add("PATCH", "/1.0/instances/cp-1", json=sync({}))
    client.update_instance_config("cp-1", {"user.lxdcp.cluster": "prod"})
    call = fake.calls[0]
    assert call.query == {"project": ["default"]}
    assert call.headers["Content-Type"] == "application/json"
    assert call.body == b'{"config": {"user.lxdcp.cluster": "prod"}}'
    assert client.session.cert[0].endswith("cert.pem")


# -- the server --------------------------------------------------------------------------------


def test_server_info_is_read_once(fake, client):
    fake.add("GET", "/1.0", json=sync(SERVER))
    assert client.server_version() == "5.0.2"
    client.require_extensions()
    client.require_virtual_machines()
    assert client.supports_virtual_machines()
    assert len(fake.calls) == 1 and client.requests_sent == 1


def test_missing_extensions_are_named(fake, client):
    fake.add("GET", "/1.0", json=sync(dict(SERVER, api_extensions=["projects"])))
    with pytest.raises(errors.LxdUnsupported) as info:
        client.require_extensions()
    assert "lacks the API extension(s) virtual-machines, custom_block_volumes" in str(info.value)
    assert "version 5.0.2" in str(info.value)


def test_a_host_without_qemu_cannot_create_vms(fake, client):
    fake.add("GET", "/1.0", json=sync(dict(SERVER, environment={"driver": "lxc", "server_version": "5.0.2"})))
    with pytest.raises(errors.LxdUnsupported, match=r"cannot create virtual machines \(instance drivers: lxc\)"):
        client.require_virtual_machines()


def test_untrusted_client_is_told_how_to_add_its_certificate(fake, client):
    fake.add("GET", "/1.0", json=sync(dict(SERVER, auth="untrusted", environment={})))
    fake.add("GET", "/1.0/instances", status=403, json=error(403, "not authorized"))
    with pytest.raises(errors.LxdUntrusted) as info:
        client.require_trusted()
    assert "answers this client as 'untrusted'" in str(info.value)
    assert "lxc config trust add %s" % client.client_cert in str(info.value)
    with pytest.raises(errors.LxdUntrusted) as info:
        client.list_instances()
    text = str(info.value)
    assert text.startswith("LXD at %s refused GET /1.0/instances?recursion=1&project=default: 403" % URL)
    assert "not authorized" in text and "lxc config trust add" in text
    assert info.value.status == 403 and len(fake.find("GET", "/1.0/instances")) == 1  # not retried


def test_capacity_and_storage_pool_free_space(fake, client):
    fake.add("GET", "/1.0/resources", json=sync({"cpu": {"total": 8}, "memory": {"total": 16 * 1024 ** 3, "used": 5}}))
    fake.add("GET", "/1.0/storage-pools/default/resources",
             json=sync({"space": {"used": 1000, "total": 5000}, "inodes": {"used": 1, "total": 2}}))
    assert client.capacity() == {"cores": 8, "memory": 16 * 1024 ** 3}
    assert client.storage_pool_free("default") == 4000


def test_storage_pool_missing_is_not_found_even_when_lxd_answers_500(fake, client):
    # LXD 5.0 answers .../resources of a missing pool with 500 "Storage pool not found".
    fake.add("GET", "/1.0/storage-pools/nope/resources", status=500, json=error(500, "Storage pool not found"))
    with pytest.raises(errors.LxdNotFound) as info:
        client.storage_pool_free("nope")
    assert "lxc storage list" in str(info.value)
    assert len(fake.calls) == 1


def test_existence_checks(fake, client):
    fake.add("GET", "/1.0/projects/default", json=sync({"name": "default"}))
    fake.add("GET", "/1.0/projects/nope", status=404, json=error(404, "Project not found"))
    fake.add("GET", "/1.0/profiles/maas", status=404, json=error(404, "Fetch profile: Profile not found"))
    fake.add("GET", "/1.0/networks/br0", json=sync({"name": "br0", "type": "bridge"}))
    fake.add("GET", "/1.0/networks/eth0", json=sync({"name": "eth0", "type": "physical"}))
    assert client.project_exists() and not client.project_exists("nope")
    assert client.vm_profiles() == []
    assert client.bridge_exists("br0") and not client.bridge_exists("eth0")
    with pytest.raises(errors.LxdBadRequest, match="'eth0' on the LXD host at .* is a physical interface, not a bridge"):
        client.require_bridges(["br0", "eth0"])


def test_instances_are_listed_with_recursion_in_the_project(fake, client):
    fake.add("GET", "/1.0/instances", json=sync([instance()]))
    assert client.list_instances(project="k8s")[0]["name"] == "cp-1"
    assert client.list_instances(all_projects=True)
    assert fake.calls[0].query == {"recursion": ["1"], "project": ["k8s"]}
    assert fake.calls[1].query == {"recursion": ["1"], "all-projects": ["true"]}


def test_missing_instance(fake, client):
    fake.add("GET", "/1.0/instances/ghost", status=404, json=error(404, "Instance not found"))
    assert client.find_instance("ghost") is None
    with pytest.raises(errors.LxdNotFound, match="refused GET /1.0/instances/ghost\\?project=default: 404"):
        client.get_instance("ghost")


def test_an_answer_that_is_not_lxd_says_so(fake, client):
    fake.add("GET", "/1.0", text="<html>MAAS</html>")
    with pytest.raises(errors.LxdError, match="did not answer like LXD .*core.https_address"):
        client.server()


# -- retries -----------------------------------------------------------------------------------


def test_503_is_retried_with_retry_after(fake, client):
    fake.add("GET", "/1.0/resources", status=503, json=error(503, "busy"), headers={"Retry-After": "3"}, times=1)
    fake.add("GET", "/1.0/resources", json=sync({"cpu": {"total": 4}, "memory": {"total": 1}}))
    assert client.capacity()["cores"] == 4
    assert client.sleeps == [3.0] and client.requests_sent == 2


def test_a_proxy_page_with_502_is_retried(fake, client):
    fake.add("GET", "/1.0/resources", status=502, text="<html>Bad Gateway</html>", times=1)
    fake.add("GET", "/1.0/resources", json=sync({"cpu": {"total": 4}, "memory": {"total": 1}}))
    assert client.capacity()["cores"] == 4 and len(fake.calls) == 2


def test_connection_errors_are_retried_with_backoff_then_give_up(fake, tmp_path):
    fake.add("GET", "/1.0", exc=dropped)
    client = lxd_client(fake, tmp_path, retries=3, backoff_base=1, backoff_max=3)
    with pytest.raises(errors.LxdRetriesExhausted) as info:
        client.server()
    assert info.value.attempts == 4 and len(fake.calls) == 4
    assert client.sleeps == [0.75, 1.5, 2.25]
    assert "Gave up on GET /1.0 at %s after 4 attempt(s)" % URL in str(info.value)
    assert isinstance(info.value.last_error, errors.LxdConnectionError)


def test_500_is_final(fake, client):
    fake.add("GET", "/1.0/instances/cp-1", status=500, json=error(500, "Failed to fetch instance"))
    with pytest.raises(errors.LxdError) as info:
        client.get_instance("cp-1")
    assert len(fake.calls) == 1 and "lxd.log" in str(info.value)


def test_every_request_is_logged_without_key_material(fake, tmp_path):
    lines = []
    fake.add("GET", "/1.0", status=503, json=error(503, "busy"), times=1)
    fake.add("GET", "/1.0", json=sync(SERVER))
    client = lxd_client(fake, tmp_path, logger=lines.append)
    client.server()
    assert lines[0].startswith("GET /1.0 -> 503 (attempt 1")
    assert lines[1].startswith("retry 1/5 of GET /1.0 in ")
    assert lines[2].startswith("GET /1.0 -> 200 (attempt 2")
    with open(client.session.cert[1], encoding="ascii") as handle:
        key = handle.read()
    body = key.split("-----")[2].strip().splitlines()[0]
    for text in lines + [repr(client)]:
        assert KEY_MARKER not in text and body not in text


# -- create, verify, conflicts -----------------------------------------------------------------


def test_create_posts_the_definition_waits_and_returns_the_instance(fake, client):
    script_create(fake)
    created = client.create_instance(definition(), project="default")
    assert created["name"] == "cp-1"
    post = fake.find("POST", "/1.0/instances")[0]
    assert post.query == {"project": ["default"]}
    assert requests.compat.json.loads(post.body) == definition()
    wait = fake.find("GET", "/1.0/operations/op1/wait")[0]
    assert wait.query == {"timeout": ["30"]}
    assert [c.method for c in fake.calls] == ["GET", "POST", "GET", "GET"]  # bridge, create, wait, read


def test_create_checks_bridges_first_and_sends_nothing_when_one_is_missing(fake, client):
    fake.add("GET", "/1.0/networks/br0", status=404, json=error(404, "Network not found"))
    with pytest.raises(errors.LxdNotFound) as info:
        client.create_instance(definition())
    assert "no network interface 'br0'" in str(info.value) and "ip link add br0 type bridge" in str(info.value)
    assert not fake.writes()


def test_a_dropped_create_answer_is_verified_by_name_and_marks(fake, client):
    fake.add("GET", "/1.0/networks/br0", json=sync({"name": "br0", "type": "bridge"}))
    fake.add("POST", "/1.0/instances", exc=dropped, times=1)
    fake.add("POST", "/1.0/instances", status=202, json=async_answer("dup"))
    fake.add("GET", "/1.0/instances/cp-1", json=sync(instance()))
    assert client.create_instance(definition())["name"] == "cp-1"
    assert len(fake.find("POST", "/1.0/instances")) == 1


def test_a_create_that_never_connected_is_sent_again(fake, client):
    fake.add("GET", "/1.0/networks/br0", json=sync({"name": "br0", "type": "bridge"}))
    fake.add("POST", "/1.0/instances", exc=refused, times=1)
    fake.add("POST", "/1.0/instances", status=202, json=async_answer("op1"))
    fake.add("GET", "/1.0/operations/op1/wait", json=sync(operation("op1", 200)))
    fake.add("GET", "/1.0/instances/cp-1", status=404, json=error(404, "Instance not found"), times=1)
    fake.add("GET", "/1.0/instances/cp-1", json=sync(instance()))
    assert client.create_instance(definition())["name"] == "cp-1"
    assert len(fake.find("POST", "/1.0/instances")) == 2


def test_a_dropped_create_without_marks_is_not_sent_again(fake, client):
    fake.add("GET", "/1.0/networks/br0", json=sync({"name": "br0", "type": "bridge"}))
    fake.add("POST", "/1.0/instances", exc=dropped)
    with pytest.raises(errors.LxdOutcomeUnknown, match="cannot be verified, so it is not sent again"):
        client.create_instance(definition(config_keys=None))
    assert len(fake.find("POST", "/1.0/instances")) == 1


@pytest.mark.parametrize("config, foreign, says", [
    ({}, True, "was not created by lxdcp.maas (no user.lxdcp.managed mark), so it is left alone"),
    (ownership.instance_marks("other"), False, "it is lxdcp.maas's (cluster other): adopt it"),
])
def test_a_name_taken_says_whose_instance_it_is(fake, client, config, foreign, says):
    fake.add("GET", "/1.0/networks/br0", json=sync({"name": "br0", "type": "bridge"}))
    fake.add("POST", "/1.0/instances", status=202, json=async_answer("op1"))
    fake.add("GET", "/1.0/operations/op1/wait", json=sync(operation(
        "op1", 400, 'Failed creating instance record: Add instance info to the database: This "instances" entry already '
        'exists')))
    fake.add("GET", "/1.0/instances/cp-1", json=sync(instance(config=config)))
    with pytest.raises(errors.LxdConflict) as info:
        client.create_instance(definition())
    assert info.value.foreign is foreign and info.value.instance["name"] == "cp-1"
    text = str(info.value)
    assert "An instance named cp-1 already exists in project default on LXD at %s" % URL in text
    assert says in text and "already exists" in info.value.lxd_error
    assert len(fake.writes()) == 1


def test_project_missing_is_not_found_with_a_hint(fake, client):
    fake.add("GET", "/1.0/networks/br0", json=sync({"name": "br0", "type": "bridge"}))
    fake.add("POST", "/1.0/instances", status=404, json=error(404, "Failed loading project: Project not found"))
    with pytest.raises(errors.LxdNotFound) as info:
        client.create_instance(definition(), project="nope")
    assert "refused POST /1.0/instances?project=nope: 404" in str(info.value)
    assert "lxc project create" in str(info.value)


def test_profile_missing_is_not_found_although_lxd_answers_500(fake, client):
    fake.add("GET", "/1.0/networks/br0", json=sync({"name": "br0", "type": "bridge"}))
    fake.add("POST", "/1.0/instances", status=500, json=error(500, 'Requested profile "maas" doesn\'t exist'))
    with pytest.raises(errors.LxdNotFound, match="lxc profile create"):
        client.create_instance(definition(profiles=["maas"]))
    assert len(fake.find("POST", "/1.0/instances")) == 1


def test_storage_pool_missing_fails_in_the_operation(fake, client):
    fake.add("GET", "/1.0/networks/br0", json=sync({"name": "br0", "type": "bridge"}))
    fake.add("POST", "/1.0/instances", status=202, json=async_answer("op1"))
    fake.add("GET", "/1.0/operations/op1/wait", json=sync(operation(
        "op1", 400, "Failed creating instance record: Failed initialising instance: Failed loading storage pool: "
        "Storage pool not found")))
    fake.add("GET", "/1.0/instances/cp-1", status=404, json=error(404, "Instance not found"))
    with pytest.raises(errors.LxdNotFound) as info:
        client.create_instance(definition(storage_pool="nope"))
    text = str(info.value)
    assert "LXD at %s failed the creation of instance cp-1 in project default (operation op1)" % URL in text
    assert "Storage pool not found" in text and "lxc storage list" in text and info.value.operation == "op1"


# -- operations --------------------------------------------------------------------------------


def test_wait_asks_in_slices_until_done(fake, client):
    fake.add("GET", "/1.0/operations/op1/wait", json=sync(operation("op1", 103)), times=2)
    fake.add("GET", "/1.0/operations/op1/wait", json=sync(operation("op1", 200)))
    assert waiters.wait_for_operation(client, "/1.0/operations/op1", 100, "a test")["status"] == "Success"
    # The fake answers at once, as if cut short: the waiter pauses with a growing, bounded delay.
    assert client.sleeps == [0.5, 0.75]
    # The read timeout of each slice covers the time LXD may block.
    assert [c.query["timeout"] for c in fake.calls] == [["30"]] * 3


def test_wait_ends_at_the_deadline(fake, client):
    fake.add("GET", "/1.0/operations/op1/wait", json=sync(operation("op1", 103)))
    with pytest.raises(errors.LxdWaitTimeout) as info:
        waiters.wait_for_operation(client, "op1", 3, "the creation of instance cp-1")
    assert "Timed out after 3 s waiting for LXD at %s to finish the creation of instance cp-1" % URL in str(info.value)
    assert info.value.state == "Running" and sum(client.sleeps) <= 3.01
    assert fake.calls[0].query["timeout"] == ["3"]


def test_newer_lxd_answering_a_slice_with_deadline_exceeded_means_not_yet(fake, client):
    fake.add("GET", "/1.0/operations/op1/wait", json=error(500, "context deadline exceeded"), times=1)
    fake.add("GET", "/1.0/operations/op1/wait", json=sync(operation("op1", 200)))
    assert waiters.wait_for_operation(client, "op1", 60, "x")["status_code"] == 200


def test_failed_and_cancelled_operations_raise_with_lxd_err(fake, client):
    fake.add("GET", "/1.0/operations/op1/wait", json=sync(operation("op1", 400, "Failed to run: forklimits ...")))
    fake.add("GET", "/1.0/operations/op2/wait", json=sync(operation("op2", 401, "")))
    with pytest.raises(errors.LxdOperationFailed) as info:
        waiters.wait_for_operation(client, "op1", 60, "the start of instance cp-1")
    assert "failed the start of instance cp-1 (operation op1): Failed to run: forklimits. LXD's log" in str(info.value)
    with pytest.raises(errors.LxdOperationFailed, match="cancelled x \\(operation op2\\)"):
        waiters.wait_for_operation(client, "op2", 60, "x")


def test_an_operation_lxd_forgot(fake, client):
    fake.add("GET", "/1.0/operations/op1/wait", status=404, json=error(404, "Operation not found"))
    with pytest.raises(errors.LxdNotFound, match="no longer knows operation op1"):
        waiters.wait_for_operation(client, "op1", 60, "x")


def test_state_changes_and_delete(fake, client):
    fake.add("DELETE", "/1.0/instances/cp-1", status=400, json=error(400, "Instance is running"), times=1)
    fake.add("PUT", "/1.0/instances/cp-1/state", status=202, json=async_answer("stop", "Stopping instance"))
    fake.add("GET", "/1.0/operations/stop/wait", json=sync(operation("stop", 200)))
    fake.add("DELETE", "/1.0/instances/cp-1", status=202, json=async_answer("del", "Deleting instance"))
    fake.add("GET", "/1.0/operations/del/wait", json=sync(operation("del", 200)))
    assert client.delete_instance("cp-1") is True
    put = fake.find("PUT", "/1.0/instances/cp-1/state")[0]
    assert requests.compat.json.loads(put.body) == {"action": "stop", "timeout": 30, "force": True}
    assert [c.method for c in fake.writes()] == ["DELETE", "PUT", "DELETE"]


def test_deleting_a_missing_instance(fake, client):
    fake.add("DELETE", "/1.0/instances/ghost", status=404, json=error(404, "Instance not found"))
    assert client.delete_instance("ghost") is False
    with pytest.raises(errors.LxdNotFound):
        client.delete_instance("ghost", missing_ok=False)


def test_stopping_a_stopped_instance_is_fine(fake, client):
    fake.add("PUT", "/1.0/instances/cp-1/state", status=202, json=async_answer("s", "Stopping instance"))
    fake.add("GET", "/1.0/operations/s/wait", json=sync(operation("s", 400, "The instance is already stopped")))
    client.stop_instance("cp-1")


def test_volumes(fake, client):
    fake.add("POST", "/1.0/storage-pools/default/volumes/custom", exc=dropped, times=1)
    fake.add("GET", "/1.0/storage-pools/default/volumes/custom/cp-1-disk1",
             json=sync({"name": "cp-1-disk1", "config": {"size": "1073741824"}, "content_type": "block"}))
    assert client.create_volume("default", "cp-1-disk1", 1024 ** 3)["content_type"] == "block"
    assert len(fake.find("POST", "/1.0/storage-pools/default/volumes/custom")) == 1
    fake.add("DELETE", "/1.0/storage-pools/default/volumes/custom/cp-1-disk1", json=sync({}))
    assert client.delete_volume("default", "cp-1-disk1") is True


# -- TLS: pinning, CA, no verification ---------------------------------------------------------

LXD_ROOT = sync(SERVER)


def test_pinned_certificate_is_accepted_without_host_name_checks(tmp_path):
    mine = tmp_path / "client"
    mine.mkdir()
    cert, key = self_signed_cert(mine)
    with TLSServer(tmp_path, answer=LXD_ROOT) as server:
        # The pinned certificate names 127.0.0.1; reaching it as "localhost" still works: the pin is the identity.
        client = LxdClient(server.base.replace("127.0.0.1", "localhost"), cert, key, server_cert=server.cert,
                           sleep=lambda s: None)
        assert client.server_version() == "5.0.2"


def test_another_certificate_than_the_pinned_one_is_refused_before_sending(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    pinned, _unused = self_signed_cert(other)
    with TLSServer(tmp_path, answer=LXD_ROOT) as server:
        cert, key = server.cert, server.key
        client = LxdClient(server.base, cert, key, server_cert=pinned, sleep=lambda s: None)
        with pytest.raises(errors.LxdTLSError) as info:
            client.server()
        text = str(info.value)
        assert "presented a certificate that is not the pinned one (server_cert %s" % pinned in text
        assert transport.certificate_fingerprint(pinned) in text
        assert transport.certificate_fingerprint(server.cert) in text
        assert "Nothing was sent" in text and server.requests == 0 and client.requests_sent == 1  # not retried
        assert KEY_MARKER not in text


def test_self_signed_without_pin_or_ca_is_refused_with_a_hint(tmp_path):
    with TLSServer(tmp_path, answer=LXD_ROOT) as server:
        client = LxdClient(server.base, server.cert, server.key, sleep=lambda s: None)
        with pytest.raises(errors.LxdTLSError) as info:
            client.server()
        assert "certificate verify failed" in str(info.value) and "pin it with server_cert" in str(info.value)
        assert server.requests == 0


def test_ca_path_verifies_chain_and_host_name(tmp_path):
    with TLSServer(tmp_path, answer=LXD_ROOT) as server:
        assert LxdClient(server.base, server.cert, server.key, ca_path=server.cert).server_version() == "5.0.2"
        with pytest.raises(errors.LxdTLSError, match="ca_path holds the CA"):
            LxdClient(server.base.replace("127.0.0.1", "localhost"), server.cert, server.key, ca_path=server.cert,
                      retries=0).server()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_validate_certs_false_works_and_is_loud(tmp_path):
    warnings = []
    with TLSServer(tmp_path, answer=LXD_ROOT) as server:
        client = LxdClient(server.base, server.cert, server.key, server_cert=server.cert, validate_certs=False,
                           warn=warnings.append)
        assert client.server_version() == "5.0.2" and client.fingerprint is None
    assert len(warnings) == 1 and "is not checked" in warnings[0] and "pin it with server_cert" in warnings[0]


def test_unreachable_lxd(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cert, key = self_signed_cert(tmp_path)
    client = LxdClient("https://127.0.0.1:%d" % port, cert, key, retries=1, sleep=lambda s: None)
    with pytest.raises(errors.LxdRetriesExhausted) as info:
        client.server()
    text = str(info.value)
    assert "Cannot reach LXD at https://127.0.0.1:%d for GET /1.0" % port in text and "Connection refused" in text
    assert "core.https_address" in text and "object at 0x" not in text


# -- the VM definition -------------------------------------------------------------------------


def test_vm_definition_is_what_maas_sends():
    sent = definitions.vm_definition(
        "cp-1", 2, 4096, [20 * 1024 ** 3, {"volume": "cp-1-disk1"}], ["br0", {"parent": "br1", "hwaddr": "00:16:3E:01:02:03"}],
        storage_pool="default", profiles=["maas"], config_keys=MARKS, architecture="x86_64")
    assert sent == {
        "name": "cp-1",
        "type": "virtual-machine",
        "architecture": "x86_64",
        "source": {"type": "none"},
        "profiles": ["maas"],
        "config": {
            "limits.cpu": "2",
            "limits.memory": str(4096 * 1024 ** 2),
            "limits.memory.hugepages": "false",
            "security.secureboot": "false",
            "user.lxdcp.managed": "true",
            "user.lxdcp.cluster": "prod",
            "user.lxdcp.hostname": "cp-1",
        },
        "devices": {
            "root": {"type": "disk", "path": "/", "pool": "default", "size": str(20 * 1024 ** 3), "boot.priority": "0"},
            "disk1": {"type": "disk", "pool": "default", "source": "cp-1-disk1"},
            "eth0": {"type": "nic", "name": "eth0", "nictype": "bridged", "parent": "br0", "boot.priority": "1"},
            "eth1": {"type": "nic", "name": "eth1", "nictype": "bridged", "parent": "br1", "hwaddr": "00:16:3e:01:02:03"},
        },
    }


def test_vm_definition_details():
    assert definitions.cpu_limit([3]) == "3-3" and definitions.cpu_limit([0, 2]) == "0,2"
    nics = definitions.nic_devices([{"parent": "br0"}, {"parent": "br1", "name": "eth0", "vlan": 10}])
    assert sorted(nics) == ["eth0", "eth1"] and nics["eth1"]["boot.priority"] == "1" and nics["eth0"]["vlan"] == "10"
    assert definitions.vm_definition("a", 1, 1, [1], ["br0"], "p", hugepages=True)["config"]["limits.memory.hugepages"] == "true"
    assert definitions.bridges(definition(nics=["br1", "br0", "br1"])) == ["br1", "br0"]


@pytest.mark.parametrize("overrides, says", [
    (dict(name="cp_1"), "not a valid MAAS hostname"),
    (dict(name="1cp"), "starts with a digit"),
    (dict(cores=0), "cores must be a positive whole number"),
    (dict(memory_mib="4G"), "memory_mib must be a positive whole number"),
    (dict(disks=[]), "needs a root disk"),
    (dict(storage_pool=None), "names no storage pool"),
    (dict(disks=[1, 2]), "must name a custom block volume"),
    (dict(nics=[]), "at least one NIC"),
    (dict(config_keys={"limits.cpu": "8"}), "part of the VM definition"),
    (dict(config_keys={"user.x": 1}), "must be a string"),
])
def test_vm_definition_refuses_bad_input(overrides, says):
    with pytest.raises(errors.LxdConfigError, match=says.replace("(", "\\(")):
        definition(**overrides)


def test_macs_and_marks():
    assert definitions.nic_macs(instance()) == {"eth0": "00:16:3e:aa:bb:cc"}
    mac = definitions.generate_mac(lambda: 0.5)
    assert mac == "00:16:3e:80:80:80"
    assert ownership.instance_is_owned(instance(), "prod") and not ownership.instance_is_owned(instance(), "dev")
    assert not ownership.instance_is_owned(instance(config={}))
    assert ownership.instance_ownership(instance()) == (True, "prod")


def test_untrust_by_name_removes_only_the_certificate_trusted_under_that_name(fake, client):
    fake.add("GET", "/1.0/certificates/aa11", json=sync({"name": "maas-abc123", "fingerprint": "aa11"}))
    fake.add("DELETE", "/1.0/certificates/aa11", json=sync({}))
    fake.add("GET", "/1.0/certificates/bb22", json=sync({"name": "lxd-az1-a (MAAS VM host)", "fingerprint": "bb22"}))
    assert client.untrust_certificate("aa11", name="maas-abc123") is True
    # A certificate shared by the VMs MAAS composed on a VM host before 4.0 is not the collection's to remove.
    assert client.untrust_certificate("bb22", name="maas-xyz") is False
    assert [(call.method, call.path) for call in fake.writes()] == [("DELETE", "/1.0/certificates/aa11")]
