"""MaasClient at the HTTP level: signing, encoding, retries, error mapping, secrets, polling."""

from __future__ import annotations

import math
import re
import socket

import pytest
import requests

from ansible_collections.lxdcp.maas.plugins.module_utils import errors as base_errors
from ansible_collections.lxdcp.maas.plugins.module_utils import retries
from ansible_collections.lxdcp.maas.plugins.module_utils.maas import api, errors, transport, waiters
from ansible_collections.lxdcp.maas.tests.unit.plugins.fakehttp import (
    API_KEY,
    BASE,
    SECRET,
    FakeClock,
    FakeMaas,
    TLSServer,
    dropped,
    refused,
)

MACHINE = {"system_id": "abc123", "hostname": "cp-1", "status_name": "Ready", "resource_uri": "/MAAS/api/2.0/machines/abc123/"}


@pytest.fixture
def fake():
    return FakeMaas()


def machine(status, **extra):
    data = dict(MACHINE, status_name=status)
    data.update(extra)
    return data


# -- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, root",
    [
        ("http://maas:5240/MAAS", "http://maas:5240/MAAS"),
        ("http://maas:5240/MAAS/", "http://maas:5240/MAAS"),
        ("http://maas:5240/MAAS/api/2.0/", "http://maas:5240/MAAS"),
        ("http://maas:5240/MAAS/api/2.0", "http://maas:5240/MAAS"),
        ("https://maas.example.com/MAAS", "https://maas.example.com/MAAS"),
        (" http://10.0.0.1:5240/MAAS ", "http://10.0.0.1:5240/MAAS"),
    ],
)
def test_url_is_normalized_to_the_maas_root(url, root):
    assert transport.normalize_url(url) == root


@pytest.mark.parametrize(
    "url, message",
    [
        ("", "url is missing"),
        (None, "url is missing"),
        ("maas:5240/MAAS", "not an absolute http"),
        ("ftp://maas/MAAS", "not an absolute http"),
        ("http:///MAAS", "not an absolute http"),
        ("http://admin:pw@maas:5240/MAAS", "must not contain credentials"),
        ("http://maas:5240/MAAS?x=1", "must not have a query"),
        ("http://maas:99999/MAAS", "invalid port"),
    ],
)
def test_bad_urls_are_rejected_before_any_request(url, message):
    with pytest.raises(errors.MaasConfigError, match=message) as info:
        transport.normalize_url(url)
    assert "pw" not in str(info.value)


@pytest.mark.parametrize(
    "key, parts",
    [
        ("a:b", "2 part(s)"),
        ("a:b:c:d", "4 part(s)"),
        ("a::c", "one of them empty"),
        ("a:b c:d", "containing whitespace"),
        ("nocolons", "1 part(s)"),
    ],
)
def test_malformed_api_keys_are_rejected_without_echo(key, parts):
    with pytest.raises(errors.MaasConfigError) as info:
        api.MaasClient(BASE, key)
    text = str(info.value)
    assert "api_key is malformed" in text and parts in text
    for piece in re.split(r"[: ]", key):
        if len(piece) > 1:
            assert piece not in text


def test_api_key_with_surrounding_whitespace_is_accepted():
    assert transport.parse_api_key("  a:b:c\n") == ("a", "b", "c")
    with pytest.raises(errors.MaasConfigError, match="api_key is missing"):
        transport.parse_api_key("")


@pytest.mark.parametrize("kwargs, message", [({"timeout": 0}, "timeout"), ({"retries": -1}, "retries")])
def test_bad_numbers_are_rejected(kwargs, message):
    with pytest.raises(errors.MaasConfigError, match=message):
        api.MaasClient(BASE, API_KEY, **kwargs)


# -- request shape -----------------------------------------------------------------------------


def test_oauth_plaintext_header_shape(fake):
    fake.add("GET", "version/", json={"version": "3.6.1"})
    client = fake.client()
    assert client.version() == {"version": "3.6.1"}
    header = fake.calls[0].headers["Authorization"]
    header = header.decode() if isinstance(header, bytes) else header
    assert header.startswith("OAuth ")
    fields = dict(re.findall(r'(\w+)="([^"]*)"', header))
    assert fields["oauth_signature_method"] == "PLAINTEXT"
    assert fields["oauth_consumer_key"] == "ck-consumer"
    assert fields["oauth_token"] == "tk-token"
    # PLAINTEXT signature = consumer secret (empty) + "&" + token secret, percent-encoded.
    assert fields["oauth_signature"] == "%26" + SECRET
    assert fields["oauth_version"] == "1.0"
    assert fields["oauth_nonce"] and fields["oauth_timestamp"].isdigit()
    assert fake.calls[0].url == BASE + "/api/2.0/version/"


def test_every_attempt_is_signed_with_a_new_nonce(fake):
    fake.add("GET", "machines/", status=503, headers={"Retry-After": "1"}, times=1)
    fake.add("GET", "machines/", json=[])
    fake.client().list_machines()
    nonces = [re.search(r'oauth_nonce="([^"]+)"', str(c.headers["Authorization"])).group(1) for c in fake.calls]
    assert len(nonces) == 2 and nonces[0] != nonces[1]


def test_query_filters_repeat_keys_and_op_goes_in_the_query_string(fake):
    fake.add("GET", "machines/", json=[])
    client = fake.client()
    client.get_machines(["a", "b"])
    client.list_machines(hostname=["cp-1"], zone="az1", pool=None)
    assert fake.calls[0].query == {"id": ["a", "b"]}
    assert fake.calls[1].query == {"hostname": ["cp-1"], "zone": ["az1"]}


def test_post_is_form_encoded_with_repeated_keys_booleans_and_trailing_slash(fake):
    fake.add("POST", "tags/lxdcp-managed/", op="update_nodes", json={"added": 2, "removed": 0})
    fake.add("POST", "machines/abc123/", op="release", json=MACHINE)
    client = fake.client()
    client.tag_machines("lxdcp-managed", add=["a", "b"])
    client.release("abc123", {"erase": False})
    first, second = fake.calls
    assert first.op == "update_nodes" and first.form == {"add": ["a", "b"]}
    assert first.headers["Content-Type"] in (b"application/x-www-form-urlencoded", "application/x-www-form-urlencoded")
    assert second.form == {"erase": ["false"]}
    assert first.url.split("?")[0].endswith("/tags/lxdcp-managed/")


def header(call, name):
    value = call.headers.get(name)
    return value.decode() if isinstance(value, bytes) else value


@pytest.mark.parametrize("data", [None, {}, [], {"comment": None}], ids=["none", "empty-dict", "empty-list", "only-none"])
def test_release_without_data_sends_no_body_never_an_empty_multipart_one(fake, data):
    # MAAS 3.6+ (Twisted's web server) answers a POST declared multipart/form-data without parts with
    # 400 and an empty body (docs/maas-sim.md, "Empty multipart bodies"): the client must send no body.
    fake.add("POST", "machines/abc123/", op="release", json=MACHINE)
    client = fake.client()
    if data is None:
        client.release("abc123")
    else:
        client.release("abc123", data)
    call = fake.calls[0]
    assert call.body is None
    assert header(call, "Content-Type") is None
    assert header(call, "Content-Length") == "0"


def test_post_bodies_are_form_encoded_never_multipart(fake):
    fake.add("POST", "machines/abc123/", op="release", json=MACHINE)
    fake.add("POST", "machines/abc123/", op="deploy", json=MACHINE)
    client = fake.client()
    client.release("abc123", {"comment": "done", "erase": False})
    client.deploy("abc123", {"distro_series": "jammy", "user_data": "#cloud-config\n"})
    for call in fake.calls:
        assert header(call, "Content-Type") == "application/x-www-form-urlencoded"
    assert fake.calls[0].form == {"comment": ["done"], "erase": ["false"]}


def test_204_returns_none_and_text_answers_are_returned_as_text(fake):
    fake.add("DELETE", "machines/abc123/", status=204)
    fake.add("GET", "version/", text="2.0")
    client = fake.client()
    assert client.delete_machine("abc123") is True
    assert client.get("version/") == "2.0"


def test_delete_of_a_missing_machine_reports_false(fake):
    fake.add("DELETE", "machines/gone/", status=404, text="No Machine matches the given query.")
    assert fake.client().delete_machine("gone") is False


# -- retries -----------------------------------------------------------------------------------


def test_503_is_retried_with_exponential_backoff_and_jitter(fake):
    fake.add("GET", "machines/", status=503, text="busy", times=3)
    fake.add("GET", "machines/", json=[MACHINE])
    client = fake.client(backoff_base=0.5)
    assert client.list_machines() == [MACHINE]
    assert len(fake.calls) == 4
    # equal jitter with rand()=0.5: 0.75 * 0.5 * 2**(n-1)
    assert client.sleeps == [0.375, 0.75, 1.5]


def test_jitter_stays_between_half_and_full_delay():
    low = api.MaasClient(BASE, API_KEY, rand=lambda: 0.0)
    high = api.MaasClient(BASE, API_KEY, rand=lambda: 0.999999)
    for attempt in range(1, 12):
        full = min(30, 0.5 * 2 ** (attempt - 1))
        assert low.backoff_delay(attempt) == pytest.approx(full / 2)
        assert full / 2 <= high.backoff_delay(attempt) <= full


def test_retry_after_is_honoured(fake):
    fake.add("GET", "machines/", status=503, headers={"Retry-After": "3"}, times=1)
    fake.add("GET", "machines/", json=[])
    client = fake.client()
    client.list_machines()
    assert client.sleeps == [3.0]


def test_retry_after_is_capped_at_backoff_max(fake):
    fake.add("GET", "machines/", status=503, headers={"Retry-After": "3600"}, times=1)
    fake.add("GET", "machines/", json=[])
    client = fake.client(backoff_max=30)
    client.list_machines()
    assert client.sleeps == [30.0]


def test_retry_after_http_date_is_understood():
    assert retries.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470) == pytest.approx(10)
    assert retries.parse_retry_after("soon") is None
    assert retries.parse_retry_after(None) is None


def test_409_with_retry_after_is_retried(fake):
    fake.add("POST", "machines/abc123/", op="release", status=409, headers={"Retry-After": "5"}, text="conflict", times=1)
    fake.add("POST", "machines/abc123/", op="release", json=MACHINE)
    client = fake.client()
    assert client.release("abc123")["system_id"] == "abc123"
    assert client.sleeps == [5.0]


def test_409_without_retry_after_is_a_state_conflict_and_not_retried(fake):
    fake.add("POST", "machines/abc123/", op="deploy", status=409, text="Can't deploy a machine that is in the 'New' state")
    fake.add("GET", "machines/abc123/", json=machine("New"))
    with pytest.raises(errors.MaasConflict) as info:
        fake.client().deploy("abc123", {})
    assert len(fake.find("POST", "machines/abc123/", "deploy")) == 1
    assert "Can't deploy a machine that is in the 'New' state" in str(info.value)
    assert "POST /machines/abc123/?op=deploy" in str(info.value)


@pytest.mark.parametrize("status", [502, 504])
def test_gateway_errors_are_retried_for_reads(fake, status):
    fake.add("GET", "zones/", status=status, text="bad gateway", times=2)
    fake.add("GET", "zones/", json=[{"name": "az1"}])
    client = fake.client()
    assert client.list_zones() == [{"name": "az1"}]
    assert len(fake.calls) == 3


def test_connection_errors_and_timeouts_are_retried_for_reads(fake):
    fake.add("GET", "zones/", exc=dropped, times=1)
    fake.add("GET", "zones/", exc=requests.exceptions.ReadTimeout("read timed out"), times=1)
    fake.add("GET", "zones/", json=[])
    client = fake.client()
    assert client.list_zones() == []
    assert len(fake.calls) == 3 and len(client.sleeps) == 2


def test_spent_budget_fails_clearly_with_the_attempt_count(fake):
    fake.add("GET", "machines/", status=503, text="Unable to connect to any rack controller", headers={"Retry-After": "1"})
    client = fake.client(retries=2)
    with pytest.raises(errors.MaasRetriesExhausted) as info:
        client.list_machines()
    error = info.value
    assert len(fake.calls) == 3 and error.attempts == 3
    assert "Gave up on GET /machines/ after 3 attempt(s)" in str(error)
    assert "Unable to connect to any rack controller" in str(error)
    assert isinstance(error.last_error, errors.MaasUnavailable) and error.status == 503


def test_retries_zero_means_one_attempt(fake):
    fake.add("GET", "machines/", status=503, text="busy")
    with pytest.raises(errors.MaasRetriesExhausted):
        fake.client(retries=0).list_machines()
    assert len(fake.calls) == 1


def test_retries_are_logged_with_attempt_numbers_and_delays(fake):
    lines = []
    fake.add("GET", "machines/", status=503, headers={"Retry-After": "2"}, text="busy", times=1)
    fake.add("GET", "machines/", json=[])
    fake.client(logger=lines.append).list_machines()
    assert "GET /machines/ -> 503 (attempt 1" in lines[0]
    assert "retry 1/5 of GET /machines/ in 2.00 s (Retry-After 2 s): MAAS refused" in lines[1]
    assert "GET /machines/ -> 200 (attempt 2" in lines[2]


# -- non-idempotent writes ---------------------------------------------------------------------


def test_compose_with_a_dropped_answer_is_verified_and_not_sent_again(fake):
    fake.add("POST", "vm-hosts/3/", op="compose", exc=dropped, times=1)
    fake.add("POST", "vm-hosts/3/", op="compose", json={"system_id": "dup999"})
    fake.add("GET", "machines/", json=[MACHINE])
    client = fake.client()
    result = client.compose(3, {"hostname": "cp-1", "cores": 2})
    assert result["system_id"] == "abc123" and result["verified"] is True
    assert len(fake.find("POST", "vm-hosts/3/", "compose")) == 1
    lookup = fake.find("GET", "machines/")[0]
    assert lookup.query == {"hostname": ["cp-1"]}


def test_answer_cut_off_mid_body_is_verified(fake):
    cut = requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead(35 bytes read, 35 more expected)")
    fake.add("POST", "vm-hosts/3/", op="compose", exc=cut, times=1)
    fake.add("GET", "machines/", json=[MACHINE])
    assert fake.client().compose(3, {"hostname": "cp-1"})["system_id"] == "abc123"
    assert len(fake.find("POST", "vm-hosts/3/", "compose")) == 1


def test_compose_waits_longer_than_maas_driver_timeout(fake, monkeypatch):
    seen = []
    fake.add("POST", "vm-hosts/3/", op="compose", json={"system_id": "abc123"})
    fake.add("GET", "zones/", json=[])
    client = fake.client(timeout=20)
    original = fake.send

    def send(request, **kwargs):
        seen.append(kwargs.get("timeout"))
        return original(request, **kwargs)

    monkeypatch.setattr(fake, "send", send)
    client.compose(3, {"hostname": "cp-1"})
    client.list_zones()
    assert seen == [api.COMPOSE_TIMEOUT, 20]


def test_compose_that_did_not_take_effect_is_sent_again(fake):
    fake.add("POST", "vm-hosts/3/", op="compose", exc=dropped, times=1)
    fake.add("POST", "vm-hosts/3/", op="compose", json={"system_id": "abc123"})
    fake.add("GET", "machines/", json=[])
    result = fake.client().compose(3, {"hostname": "cp-1"})
    assert result == {"system_id": "abc123"}
    assert [c.method for c in fake.calls] == ["POST", "GET", "POST"]


def test_compose_retried_after_503_with_retry_after_checks_first(fake):
    fake.add("POST", "vm-hosts/3/", op="compose", status=503, headers={"Retry-After": "1"}, text="busy", times=2)
    fake.add("POST", "vm-hosts/3/", op="compose", json={"system_id": "abc123"})
    fake.add("GET", "machines/", json=[])
    client = fake.client()
    assert client.compose(3, {"hostname": "cp-1"})["system_id"] == "abc123"
    assert [c.method for c in fake.calls] == ["POST", "GET", "POST", "GET", "POST"]


def test_compose_503_without_retry_after_is_maas_final_answer(fake):
    text = "Unable to compose KVM instance in 'lxd-1'. CPU overcommit ratio is 1.0 and there are 2 available resources; 4 requested."
    fake.add("POST", "vm-hosts/3/", op="compose", status=503, text=text)
    with pytest.raises(errors.MaasUnavailable) as info:
        fake.client().compose(3, {"hostname": "cp-1"})
    assert text in str(info.value) and len(fake.calls) == 1


def test_compose_resent_while_the_first_still_ran_recovers_from_the_hostname_clash(fake):
    fake.add("POST", "vm-hosts/3/", op="compose", exc=requests.exceptions.ReadTimeout("timed out"), times=1)
    fake.add("POST", "vm-hosts/3/", op="compose", status=400, json={"hostname": ['Node with hostname "cp-1" already exists']})
    fake.add("GET", "machines/", json=[], times=1)
    fake.add("GET", "machines/", json=[MACHINE])
    result = fake.client().compose(3, {"hostname": "cp-1"})
    assert result["system_id"] == "abc123"
    assert len(fake.find("POST", "vm-hosts/3/", "compose")) == 2


def test_compose_hostname_clash_on_the_first_attempt_is_an_error(fake):
    fake.add("POST", "vm-hosts/3/", op="compose", status=400, json={"hostname": ['Node with hostname "cp-1" already exists']})
    with pytest.raises(errors.MaasValidationError) as info:
        fake.client().compose(3, {"hostname": "cp-1"})
    assert info.value.fields == {"hostname": ['Node with hostname "cp-1" already exists']}
    assert "hostname: Node with hostname" in str(info.value)


def test_compose_needs_a_hostname(fake):
    with pytest.raises(errors.MaasConfigError, match="hostname"):
        fake.client().compose(3, {"cores": 1})


def test_unverifiable_write_with_unknown_outcome_is_not_resent(fake):
    fake.add("POST", "ipaddresses/", op="reserve", exc=dropped)
    with pytest.raises(errors.MaasOutcomeUnknown) as info:
        fake.client().post("ipaddresses/", data={"ip": "10.10.0.50"}, op="reserve")
    assert len(fake.calls) == 1
    assert "unknown outcome" in str(info.value) and "not sent again" in str(info.value)


def test_unverifiable_write_is_retried_when_no_connection_was_made(fake):
    fake.add("POST", "ipaddresses/", op="reserve", exc=refused, times=1)
    fake.add("POST", "ipaddresses/", op="reserve", json={"ip": "10.10.0.50"})
    assert fake.client().post("ipaddresses/", data={"ip": "10.10.0.50"}, op="reserve") == {"ip": "10.10.0.50"}
    assert len(fake.calls) == 2


def test_deploy_retry_checks_the_machine_state(fake):
    fake.add("POST", "machines/abc123/", op="deploy", exc=dropped, times=1)
    fake.add("GET", "machines/abc123/", json=machine("Deploying"))
    result = fake.client().deploy("abc123", {"distro_series": "jammy"})
    assert result["status_name"] == "Deploying"
    assert len(fake.find("POST", "machines/abc123/", "deploy")) == 1


def test_ensure_tags_reads_the_tags_once_and_creates_only_the_missing_ones(fake):
    fake.add("GET", "tags/", json=[{"name": "lxdcp-managed"}, {"name": "virtual"}], times=1)
    fake.add("POST", "tags/", json={"name": "lxdcp-cluster-a"})
    fake.add("GET", "tags/", json=[{"name": "lxdcp-managed"}, {"name": "lxdcp-cluster-a"}])
    client = fake.client()
    assert client.ensure_tags({"lxdcp-managed": "managed", "lxdcp-cluster-a": "cluster"}) == ["lxdcp-cluster-a"]
    assert client.ensure_tags({"lxdcp-managed": "managed", "lxdcp-cluster-a": "cluster"}) == []
    assert [c.path for c in fake.calls if not c.write] == ["tags/", "tags/"]
    assert len(fake.writes()) == 1 and fake.writes()[0].form == {"name": ["lxdcp-cluster-a"], "comment": ["cluster"]}


def test_ensure_tags_accepts_a_tag_created_meanwhile_by_a_parallel_task(fake):
    fake.add("GET", "tags/", json=[])
    fake.add("POST", "tags/", status=400, json={"name": ["Tag with this Name already exists."]})
    fake.add("GET", "tags/lxdcp-cluster-a/", json={"name": "lxdcp-cluster-a"})
    assert fake.client().ensure_tags({"lxdcp-cluster-a": ""}) == []
    assert len(fake.writes()) == 1


def test_ensure_tags_raises_other_validation_errors(fake):
    fake.add("GET", "tags/", json=[])
    fake.add("GET", "tags/bad tag/", status=404, text="No Tag matches the given query.")
    fake.add("POST", "tags/", status=400, json={"name": ["Enter a valid value."]})
    with pytest.raises(errors.MaasValidationError, match="Enter a valid value"):
        fake.client().ensure_tags({"bad tag": ""})


def test_link_subnet_retry_finds_the_existing_link(fake):
    fake.add("POST", "nodes/abc123/interfaces/7/", op="link_subnet", exc=dropped, times=1)
    fake.add("GET", "nodes/abc123/interfaces/7/", json={"id": 7, "links": [{"id": 3, "mode": "static", "ip_address": "10.10.0.50"}]})
    result = fake.client().link_subnet("abc123", 7, {"mode": "STATIC", "subnet": 1, "ip_address": "10.10.0.50"})
    assert result["id"] == 7 and len(fake.writes()) == 1


def test_unlink_subnet_retry_sees_the_link_gone(fake):
    fake.add("POST", "nodes/abc123/interfaces/7/", op="unlink_subnet", exc=dropped, times=1)
    fake.add("GET", "nodes/abc123/interfaces/7/", json={"id": 7, "links": []})
    assert fake.client().unlink_subnet("abc123", 7, 3)["links"] == []
    assert fake.writes()[0].form == {"id": ["3"]}


def test_release_ip_retry_sees_it_released(fake):
    fake.add("POST", "ipaddresses/", op="release", exc=dropped, times=1)
    fake.add("GET", "ipaddresses/", json=[])
    assert fake.client().release_ip("10.10.0.50") is True
    assert len(fake.writes()) == 1


# -- error mapping -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, body, cls, words",
    [
        (400, {"cores": ["Ensure this value is less than or equal to 16."]}, errors.MaasValidationError,
         ["400", "cores: Ensure this value is less than or equal to 16.", "Check the values"]),
        (400, "Unrecognised signature: method=GET op=frob", errors.MaasValidationError, ["Unrecognised signature"]),
        (401, "Authorization Error: 'Invalid access token: tk-token'", errors.MaasAuthError, ["401", "Check api_key"]),
        (403, "This method is reserved for admin users.", errors.MaasAuthError, ["reserved for admin", "admin"]),
        (404, "No Machine matches the given query.", errors.MaasNotFound, ["No Machine matches"]),
        (409, "Machine cannot be released in its current state ('New').", errors.MaasConflict, ["current state"]),
        (500, "boom", errors.MaasError, ["500", "boom", "regiond.log"]),
    ],
)
def test_status_codes_map_to_typed_errors(fake, status, body, cls, words):
    if isinstance(body, dict):
        fake.add("GET", "machines/abc123/", status=status, json=body)
    else:
        fake.add("GET", "machines/abc123/", status=status, text=body)
    with pytest.raises(cls) as info:
        fake.client().get_machine("abc123")
    text = str(info.value)
    assert "GET /machines/abc123/" in text
    for word in words:
        assert word in text
    assert info.value.status == status
    assert SECRET not in text
    assert len(fake.calls) == 1


@pytest.mark.parametrize("said", [
    "Authorization Error: Invalid API key.", "Authorization Error: Invalid API key..",
    "Authorization Error: Invalid API key", "Authorization Error: Invalid API key... \n",
])
def test_an_answer_ending_with_periods_gets_exactly_one(fake, said):
    fake.add("GET", "machines/", status=401, text=said)
    with pytest.raises(errors.MaasAuthError) as info:
        fake.client().list_machines()
    message = info.value.message
    assert "401 Unauthorized: Authorization Error: Invalid API key. Check api_key" in message
    assert ".." not in message


def test_field_errors_exclamations_and_empty_reasons_read_as_one_sentence():
    fields = errors.error_from_answer(400, "Bad Request", '{"cores": ["Ensure this value is less than or equal to 16."]}',
                                      "POST", "vm-hosts/1/", "compose")
    assert "400 Bad Request: cores: Ensure this value is less than or equal to 16. Check the values" in fields.message
    shout = errors.error_from_answer(400, "Bad Request", "No provided system_id!", "POST", "machines/")
    assert "No provided system_id! Check the values" in shout.message
    bare = errors.error_from_answer(401, "", "Authorization Error: Invalid API key.", "GET", "machines/")
    assert "GET /machines/: 401: Authorization Error: Invalid API key. Check api_key" in bare.message
    empty = errors.error_from_answer(500, "Internal Server Error", "", "GET", "machines/")
    assert "500 Internal Server Error: (empty answer). MAAS failed internally" in empty.message
    for error in (fields, shout, bare, empty):
        assert ".." not in error.message and "  " not in error.message


def test_connection_reasons_ending_with_a_period_get_exactly_one(fake):
    fake.add("GET", "machines/", exc=lambda: requests.exceptions.ConnectionError("Connection aborted."))
    with pytest.raises(errors.MaasError) as info:
        fake.client(retries=0).list_machines()
    message = str(info.value)
    assert "Connection aborted. Check url (MAAS_URL)" in message and ".." not in message


@pytest.mark.parametrize("text, expected", [
    ("Invalid API key.", "Invalid API key."), ("Invalid API key..", "Invalid API key."), ("done", "done."),
    ("done . ", "done."), ("Why?", "Why?"), ("No provided system_id!", "No provided system_id!"), ("", "."),
])
def test_sentence(text, expected):
    assert base_errors.sentence(text) == expected


def test_410_on_vm_hosts_explains_the_removal(fake):
    fake.add("GET", "vm-hosts/", status=410, text="VM host (KVM) support has been removed from MAAS.")
    with pytest.raises(errors.MaasGone) as info:
        fake.client().list_vm_hosts()
    text = str(info.value)
    assert "no longer supports VM hosts" in text and "after 3.8" in text
    assert "bare-metal" in text and "VM host (KVM) support has been removed" in text
    assert len(fake.calls) == 1


def test_html_404_suggests_the_maas_root(fake):
    fake.add("GET", "machines/", status=404, text="<html><body>Not Found</body></html>")
    with pytest.raises(errors.MaasNotFound, match="url is the MAAS root"):
        fake.client().list_machines()


def test_redirects_are_not_followed(fake):
    fake.add("POST", "machines/abc123/", op="release", status=301, headers={"Location": "https://maas/MAAS/api/2.0/x/"})
    with pytest.raises(errors.MaasError, match="redirect .301. to https://maas/MAAS"):
        fake.client().release("abc123")
    assert len(fake.calls) == 1


def test_long_bodies_are_shortened(fake):
    fake.add("GET", "machines/", status=500, text="x" * 5000)
    with pytest.raises(errors.MaasError) as info:
        fake.client().list_machines()
    assert "(5000 characters)" in str(info.value) and len(str(info.value)) < 1200


def test_error_to_dict_is_json_safe(fake):
    fake.add("GET", "zones/", status=404, text="nope")
    with pytest.raises(errors.MaasNotFound) as info:
        fake.client().list_zones()
    assert info.value.to_dict() == {"type": "MaasNotFound", "status": 404, "method": "GET", "path": "zones/",
                                    "op": None, "body": "nope"}


def test_duplicate_hostnames_are_reported(fake):
    fake.add("GET", "machines/", json=[MACHINE, dict(MACHINE, system_id="zzz")])
    with pytest.raises(errors.MaasError, match="2 machines named 'cp-1'"):
        fake.client().find_machine("cp-1")


# -- real sockets: refused connection and TLS --------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_url_is_retried_then_fails_clearly():
    sleeps = []
    client = api.MaasClient("http://127.0.0.1:%d/MAAS" % free_port(), API_KEY, retries=1, sleep=sleeps.append)
    with pytest.raises(errors.MaasRetriesExhausted) as info:
        client.version()
    text = str(info.value)
    assert "Cannot reach MAAS at http://127.0.0.1:" in text and "Connection refused" in text
    assert "after 2 attempt(s)" in text and len(sleeps) == 1
    assert isinstance(info.value.last_error, errors.MaasConnectionError)
    assert "object at 0x" not in text


def test_tls_self_signed_certificate_is_refused_by_default(tmp_path):
    with TLSServer(tmp_path) as server:
        client = api.MaasClient(server.url, API_KEY, sleep=lambda s: None)
        with pytest.raises(errors.MaasTLSError) as info:
            client.version()
        text = str(info.value)
        assert "TLS connection to MAAS at %s failed" % server.url in text
        assert "certificate verify failed" in text and "ca_path" in text
        # Certificate problems do not go away by themselves: no retry.
        assert client.requests_sent == 1


# validate_certs=false is the point of half of this test; urllib3's warning about it is expected.
@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_with_ca_path_or_without_validation_works(tmp_path):
    with TLSServer(tmp_path) as server:
        assert api.MaasClient(server.url, API_KEY, ca_path=server.cert).version()["version"] == "3.6.1"
        assert api.MaasClient(server.url, API_KEY, validate_certs=False).version()["version"] == "3.6.1"


# -- secrets -----------------------------------------------------------------------------------


def test_no_secret_in_repr_logs_or_errors(fake):
    lines = []
    fake.add("GET", "machines/", status=503, text="busy", times=2)
    fake.add("GET", "machines/", exc=dropped, times=1)
    fake.add("GET", "machines/", status=401, text="Authorization Error: 'Invalid access token: tk-token'")
    client = fake.client(logger=lines.append)
    with pytest.raises(errors.MaasError) as info:
        client.list_machines()
    texts = [repr(client), str(info.value), repr(info.value), repr(info.value.to_dict()), repr(client.session.auth.client)]
    texts += lines
    for text in texts:
        assert SECRET not in text
        assert API_KEY not in text


def test_piston_wrong_signature_answer_does_not_leak_the_secret(fake):
    # What MAAS's piston answers for a wrong token secret: the expected base string, i.e. "&" + the real secret.
    body = "Authorization Error: 'Invalid signature. Expected signature base string: &%s'" % SECRET
    fake.add("GET", "machines/abc123/", status=401, text=body, headers={"WWW-Authenticate": 'OAuth realm="OAuth"'})
    lines = []
    client = fake.client(logger=lines.append)
    with pytest.raises(errors.MaasAuthError) as info:
        client.get_machine("abc123")
    error = info.value
    assert "Expected signature base string: <redacted>" in error.message and "Check api_key" in error.message
    assert error.body == "Authorization Error: 'Invalid signature. Expected signature base string: <redacted>'"
    for text in [str(error), repr(error), repr(error.to_dict()), repr(error.args)] + lines:
        assert SECRET not in text


def test_secrets_echoed_in_retried_answers_are_redacted_everywhere(fake):
    # A proxy echoing the request's OAuth header in a 503 page: the body lands in the retry log and the final error.
    body = 'upstream down; request had Authorization: OAuth oauth_token="tk-token", oauth_signature="%%26%s"' % SECRET
    fake.add("GET", "machines/", status=503, text=body, headers={"Retry-After": "1"})
    lines = []
    client = fake.client(logger=lines.append, retries=1)
    with pytest.raises(errors.MaasRetriesExhausted) as info:
        client.list_machines()
    error = info.value
    assert 'oauth_token="<redacted>", oauth_signature="<redacted>"' in error.body
    for text in [str(error), repr(error), repr(error.to_dict()), repr(error.last_error.to_dict())] + lines:
        assert SECRET not in text and "tk-token" not in text
    assert any("retry 1/1 of GET /machines/" in line for line in lines)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Expected signature base string: &s3cr3t'", "Expected signature base string: <redacted>'"),
        ("Expected signature base string: POST&http%3A%2F%2Fmaas%2F&oauth_token%3Dtk", "Expected signature base string: <redacted>"),
        ("Authorization Error: 'Invalid access token: tk-token'", "Authorization Error: 'Invalid access token: <redacted>'"),
        ("oauth_signature=%26s3cr3t&oauth_token=tk&x=1", "oauth_signature=<redacted>&oauth_token=<redacted>&x=1"),
        ('{"oauth_token": "tk"}', '{"oauth_token": "<redacted>"}'),
        # The Authorization header quoted inside a JSON string (a proxy's error page in JSON): the quotes are escaped.
        ('{"error": "oauth_consumer_key=\\"ck\\", oauth_token=\\"tk\\", oauth_signature=\\"%26s3cr3t\\""}',
         '{"error": "oauth_consumer_key=\\"ck\\", oauth_token=\\"<redacted>\\", oauth_signature=\\"<redacted>\\""}'),
        ("secret mine-%2Fsecret or mine-/secret", "secret <redacted> or <redacted>"),
        ("No Machine matches the given query.", "No Machine matches the given query."),
        ("", ""),
        # Whatever follows the label, to the end of its line, goes: spaces and <...> leave nothing behind.
        ("Authorization Error: 'Invalid signature. Expected signature base string: &<token secret>'",
         "Authorization Error: 'Invalid signature. Expected signature base string: <redacted>'"),
        ('Error: "Expected signature base string: &a secret with spaces <and> \'quotes\'"',
         'Error: "Expected signature base string: <redacted>"'),
        ("Invalid access token: tk with spaces\nNo Machine matches the given query.",
         "Invalid access token: <redacted>\nNo Machine matches the given query."),
        ("<p>Expected signature base string: &s3cr3t</p>", "<p>Expected signature base string: <redacted>"),
    ],
)
def test_redact_secrets(text, expected):
    assert errors.redact_secrets(text, ("mine-%2Fsecret", "mine-/secret")) == expected


@pytest.mark.parametrize("secret", ["red", "act", "<", ">", "secret"])
def test_redaction_never_leaves_pieces_of_a_placeholder_or_a_secret(secret):
    text = "Authorization Error: 'Invalid signature. Expected signature base string: &%s'" % secret
    redacted = errors.redact_secrets(text, (secret,))
    assert redacted == "Authorization Error: 'Invalid signature. Expected signature base string: <redacted>'"
    assert errors.redact_secrets("Invalid access token: <token secret>", (secret,)) == "Invalid access token: <redacted>"


# -- polling -----------------------------------------------------------------------------------


LAG = waiters.POLL_LAG


def timed_client(fake):
    """A client whose clock is exactly the time slept (requests take no time), for the polling schedule."""
    sleeps = []
    return fake.client(sleeps=sleeps, clock=FakeClock(sleeps, tick=0))


def deploys_after(seconds, sleeps, system_ids=("abc123",)):
    """A handler for ``GET /machines/<id>/`` and ``GET /machines/?id=..``: Deploying until the fake clock reaches ``seconds``."""
    def status():
        return "Deployed" if sum(sleeps) >= seconds else "Deploying"

    def handler(call):
        if call.query.get("id"):
            return 200, [machine(status(), system_id=system_id) for system_id in call.query["id"]]
        return 200, machine(status())
    return handler


def expected_pauses(sleeps, start, cap, lag=LAG):
    """The pause the rule gives after each poll, from the time waited before it (the fake clock: the sleeps so far)."""
    return [min(cap, max(start, lag * sum(sleeps[:i]))) for i in range(len(sleeps))]


@pytest.mark.parametrize("elapsed, remaining, start, cap, pause", [
    (0.0, 600, 0.5, 10.0, 0.5),     # the first pause is start
    (1.9, 600, 0.5, 10.0, 0.5),     # start while lag * elapsed is below it
    (4.0, 600, 0.5, 10.0, 1.0),     # then lag * elapsed
    (39.0, 600, 0.5, 10.0, 9.75),
    (41.0, 600, 0.5, 10.0, 10.0),   # never above cap
    (500.0, 600, 0.5, 10.0, 10.0),
    (100.0, 3.0, 0.5, 10.0, 3.0),   # cut to the deadline
    (0.0, 0.1, 0.5, 10.0, 0.1),     # even below start
    (0.0, -1.0, 0.5, 10.0, 0.0),    # never negative
])
def test_next_pause_is_a_share_of_the_time_waited_between_start_and_cap(elapsed, remaining, start, cap, pause):
    assert waiters.next_pause(elapsed, remaining, start=start, cap=cap) == pytest.approx(pause)


@pytest.mark.parametrize("elapsed, pause", [
    (0.5, 0.25),    # the cluster-wide wait's start
    (2.4, 0.25),    # start while a tenth of the time waited is below it
    (6.0, 0.6),     # then a tenth of it
    (19.0, 1.9),
    (60.0, 2.0),    # never above its cap
])
def test_the_cluster_wide_pause_is_a_tenth_of_the_time_waited(elapsed, pause):
    assert waiters.next_pause(elapsed, 600, start=waiters.CLUSTER_POLL_START, cap=waiters.CLUSTER_POLL_CAP,
                              lag=waiters.CLUSTER_POLL_LAG) == pytest.approx(pause)


def test_wait_for_machine_pauses_grow_with_the_time_waited(fake):
    client = timed_client(fake)
    fake.add("GET", "machines/abc123/", handler=deploys_after(30, client.sleeps))
    result = waiters.wait_for_machine(client, "abc123", "Deployed", timeout=600)
    assert result["status_name"] == "Deployed"
    sleeps = client.sleeps
    # Each pause is the rule's for the time waited before it.
    assert sleeps == pytest.approx(expected_pauses(sleeps, waiters.MACHINE_POLL_START, waiters.MACHINE_POLL_CAP))
    assert sleeps[:4] == [waiters.MACHINE_POLL_START] * 4 and sleeps[-1] > 1.5 * sleeps[4]
    assert all(later >= earlier for earlier, later in zip(sleeps, sleeps[1:]))
    assert len(fake.calls) == len(sleeps) + 1


@pytest.mark.parametrize("seconds", [2.0, 2.4, 3.0, 5.0, 17.0, 60.0, 600.0])
def test_a_new_state_is_seen_within_a_share_of_the_time_waited_and_the_cap(fake, seconds):
    client = timed_client(fake)
    fake.add("GET", "machines/abc123/", handler=deploys_after(seconds, client.sleeps))
    waiters.wait_for_machine(client, "abc123", "Deployed", timeout=1800)
    late = sum(client.sleeps) - seconds
    assert 0 <= late <= min(waiters.MACHINE_POLL_CAP, LAG * seconds) + 1e-9
    # The old schedule (0.5 s growing by 1.5) saw a state reported at 2.4 s at 4.06 s: 69 % late.
    assert late / seconds <= LAG + 1e-9


def most_polls(seconds, start, cap, lag=LAG):
    """The requests of a wait of ``seconds``: 1 / lag at ``start`` (for start / lag seconds), then a factor (1 + lag)
    per poll up to cap / lag seconds, then one per ``cap``; plus the first poll and the one that sees the state."""
    ramp = math.log(cap / start) / math.log(1 + lag)
    return 1 / lag + ramp + max(0, seconds - cap / lag) / cap + 2


@pytest.mark.parametrize("seconds", [2.0, 5.0, 60.0, 600.0])
def test_one_machine_wait_requests_grow_with_the_log_then_linearly_with_the_time_waited(fake, seconds):
    client = timed_client(fake)
    fake.add("GET", "machines/abc123/", handler=deploys_after(seconds, client.sleeps))
    waiters.wait_for_machine(client, "abc123", "Deployed", timeout=1800)
    assert len(fake.calls) <= most_polls(seconds, waiters.MACHINE_POLL_START, waiters.MACHINE_POLL_CAP)
    # Never closer than start, so never more than one request per start second.
    assert len(fake.calls) <= seconds / waiters.MACHINE_POLL_START + 1


def test_wait_delays_are_capped_and_cut_to_the_deadline(fake):
    fake.add("GET", "machines/abc123/", json=machine("Deploying", status_message="Deploying - curtin"))
    client = timed_client(fake)
    with pytest.raises(errors.MaasWaitError) as info:
        waiters.wait_for_machine(client, "abc123", "Deployed", timeout=90)
    sleeps = client.sleeps
    assert max(sleeps) == waiters.MACHINE_POLL_CAP == 10.0 and sleeps.count(10.0) >= 2
    assert sum(sleeps) == pytest.approx(90)
    # The last pause is cut to the deadline: shorter than the rule's.
    assert sleeps[-1] < expected_pauses(sleeps, waiters.MACHINE_POLL_START, waiters.MACHINE_POLL_CAP)[-1]
    error = info.value
    assert error.timed_out and error.state == "Deploying (Deploying - curtin)"
    assert "Timed out after 90 s waiting for machine abc123 to become Deployed" in str(error)
    assert "last state: Deploying (Deploying - curtin)" in str(error)


def test_wait_stops_on_a_failed_state_with_maas_reasons(fake):
    statuses = iter(["Deploying", "Failed deployment"])
    fake.add("GET", "machines/abc123/", handler=lambda call: (200, machine(
        next(statuses), status_message="Failed deployment", error_description="curtin failed: no disk")))
    client = timed_client(fake)
    with pytest.raises(errors.MaasWaitError) as info:
        waiters.wait_for_machine(client, "abc123", ["Deployed"], timeout=600)
    text = str(info.value)
    assert "reached 'Failed deployment'" in text and "curtin failed: no disk" in text
    assert info.value.state == "Failed deployment" and not info.value.timed_out
    assert info.value.machine["system_id"] == "abc123"


def test_wait_for_machine_gone(fake):
    answers = iter([[machine("Ready")], [machine("Ready")], []])
    fake.add("GET", "machines/", handler=lambda call: (200, next(answers)))
    client = timed_client(fake)
    assert waiters.wait_for_machine_gone(client, "abc123", timeout=30) is None
    assert fake.calls[0].query == {"id": ["abc123"]}
    assert len(client.sleeps) == 2


def test_wait_for_machines_asks_for_all_of_them_in_one_request_per_interval(fake):
    rounds = iter([
        [machine("Deploying", system_id="a1", hostname="cp-1"), machine("Deploying", system_id="b2", hostname="cp-2"),
         machine("Deploying", system_id="c3", hostname="cp-3")],
        [machine("Deployed", system_id="a1", hostname="cp-1"), machine("Deploying", system_id="b2", hostname="cp-2"),
         machine("Deploying", system_id="c3", hostname="cp-3")],
        [machine("Deployed", system_id="b2", hostname="cp-2"), machine("Deploying", system_id="c3", hostname="cp-3")],
        [machine("Deployed", system_id="c3", hostname="cp-3")],
    ])
    fake.add("GET", "machines/", handler=lambda call: (200, next(rounds)))
    client = timed_client(fake)
    outcomes, polls = waiters.wait_for_machines(client, ["a1", "b2", "c3"], ["Deployed"], timeout=600)
    assert polls == 4 and len(fake.calls) == 4
    # Each request asks only for the machines still on their way.
    assert [call.query["id"] for call in fake.calls] == [["a1", "b2", "c3"], ["a1", "b2", "c3"], ["b2", "c3"], ["c3"]]
    assert {s: (o["ok"], o["status"]) for s, o in outcomes.items()} == {
        "a1": (True, "Deployed"), "b2": (True, "Deployed"), "c3": (True, "Deployed")}
    assert client.sleeps == [waiters.CLUSTER_POLL_START] * 3


def test_wait_for_machines_interval_starts_and_is_capped_lower_than_one_machine_wait(fake):
    fake.add("GET", "machines/", json=[machine("Deploying", system_id="a1")])
    client = timed_client(fake)
    outcomes, polls = waiters.wait_for_machines(client, ["a1"], "Deployed", timeout=30)
    sleeps = client.sleeps
    assert waiters.CLUSTER_POLL_START < waiters.MACHINE_POLL_START and waiters.CLUSTER_POLL_CAP < waiters.MACHINE_POLL_CAP
    assert waiters.CLUSTER_POLL_LAG < waiters.POLL_LAG
    assert sleeps[0] == waiters.CLUSTER_POLL_START == 0.25 and max(sleeps) == waiters.CLUSTER_POLL_CAP == 2.0
    assert sleeps[:-1] == pytest.approx(expected_pauses(
        sleeps, waiters.CLUSTER_POLL_START, waiters.CLUSTER_POLL_CAP, waiters.CLUSTER_POLL_LAG)[:-1])
    assert sum(sleeps) == pytest.approx(30, abs=0.2)
    assert polls == len(fake.calls) == len(sleeps) + 1
    outcome = outcomes["a1"]
    assert outcome["timed_out"] and not outcome["ok"] and outcome["status"] == "Deploying"
    assert "Timed out after 30 s waiting for" in outcome["reason"] and "to become Deployed" in outcome["reason"]


@pytest.mark.parametrize("seconds", [2.0, 5.0, 60.0, 600.0])
def test_wait_for_machines_requests_grow_with_the_time_waited_not_with_the_machines(fake, seconds):
    counts = []
    for machines in (1, 30):
        fake = FakeMaas()
        client = timed_client(fake)
        fake.add("GET", "machines/", handler=deploys_after(seconds, client.sleeps))
        system_ids = ["m%02d" % i for i in range(machines)]
        outcomes, polls = waiters.wait_for_machines(client, system_ids, "Deployed", timeout=1800)
        assert all(outcome["ok"] for outcome in outcomes.values()) and len(outcomes) == machines
        late = sum(client.sleeps) - seconds
        assert 0 <= late <= min(waiters.CLUSTER_POLL_CAP, max(waiters.CLUSTER_POLL_START, waiters.CLUSTER_POLL_LAG * seconds)) + 1e-9
        counts.append(polls)
    assert counts[0] == counts[1]
    assert counts[0] <= most_polls(seconds, waiters.CLUSTER_POLL_START, waiters.CLUSTER_POLL_CAP, waiters.CLUSTER_POLL_LAG)


def test_wait_for_machines_reports_each_failure_and_stops_asking_for_it(fake):
    rounds = iter([
        [machine("Failed deployment", system_id="a1", hostname="cp-1", error_description="curtin failed: no disk"),
         machine("Deploying", system_id="b2", hostname="cp-2")],
        [],  # cp-2 deleted meanwhile
    ])
    fake.add("GET", "machines/", handler=lambda call: (200, next(rounds)))
    client = fake.client()
    known = {"a1": machine("Deploying", system_id="a1", hostname="cp-1"), "b2": machine("Deploying", system_id="b2", hostname="cp-2")}
    outcomes, polls = waiters.wait_for_machines(client, ["a1", "b2"], ["Deployed"], timeout=600, known=known)
    # The machines read just before are the first check: no request for them, then one per interval.
    assert polls == 2 and [call.query["id"] for call in fake.calls] == [["a1", "b2"], ["b2"]]
    assert not outcomes["a1"]["ok"] and "cp-1 (a1) reached 'Failed deployment' while waiting for Deployed" in outcomes["a1"]["reason"]
    assert "curtin failed: no disk" in outcomes["a1"]["reason"]
    assert not outcomes["b2"]["ok"] and "no longer in MAAS" in outcomes["b2"]["reason"]
    assert outcomes["b2"]["machine"]["hostname"] == "cp-2"
