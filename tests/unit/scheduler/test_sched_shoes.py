"""shoes-lxd-multi as a client: its flat body (memory in bytes, target_hosts by address), /scheduled-resources, PORT,
the opt-in to unverified LXD servers, and logs in log/slog's JSON shape.

The flat body is what ``server/pkg/api/scheduler_client.go`` of shoes-lxd-multi's branch ``feat/add-lxd-scheduler``
sends (``ScheduleRequest{CPU int "cpu"; Memory int "memory"; TargetHosts []string "target_hosts,omitempty"}``); the
end-to-end test with a client sending exactly its bytes over real LXD daemons is
tests/integration/scheduler/test_sched_shoes_client.py.
"""

from __future__ import annotations

import datetime
import logging
import re
import time

import pytest
import requests

from lxd_multi_scheduler import logs
from lxd_multi_scheduler.config import ConfigError, load_settings
from lxd_multi_scheduler.lxd import LxdClient

GIB = 1024 ** 3
A, B = "https://lxd1.test:8443", "https://lxd2.test:8443"  # the conftest's servers lxd1 and lxd2


def post(url, body):
    return requests.post(url + "/schedule", json=body, timeout=10)


def test_flat_body_is_answered_with_the_address(lxd, start):
    lxd.set("lxd1", used_cores=4)
    url = start()
    answer = post(url, {"cpu": 2, "memory": 2 * GIB})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["host"], answer.json()["name"]) == (B, "lxd2")
    # Bytes become whole MiB, rounded up: go-units' "2GB" is 2e9 bytes, 1907.35 MiB.
    post(url, {"cpu": 1, "memory": 2_000_000_000})
    memories = sorted(r["memory"] for r in requests.get(url + "/reservations", timeout=10).json()["reservations"])
    assert memories == [1908, 2048]


def test_target_hosts_restrict_the_choice_and_keep_the_callers_spelling(lxd, start):
    lxd.set("lxd2", used_cores=0)
    lxd.set("lxd1", used_cores=6)
    url = start()
    answer = post(url, {"cpu": 1, "memory": GIB, "target_hosts": [A + "/"]}).json()
    assert answer["host"] == A + "/"  # shoes-lxd-multi compares this string with its own host address
    assert answer["name"] == "lxd1"
    twice = post(url, {"cpu": 1, "memory": GIB, "target_hosts": [A, A + "/"]}).json()  # one server, two spellings
    assert twice["host"] == A and not any(r["code"] == "unknown" for r in twice["rejected"])
    assert {"host": "lxd2", "host_id": B, "zone": "default", "code": "hosts", "reason": "not in the request's target_hosts"} in answer["rejected"]
    # An empty list is Go's "no targets" (omitempty): every server.
    assert post(url, {"cpu": 1, "memory": GIB, "target_hosts": []}).json()["host"] == B


def test_unknown_target_hosts(start):
    url = start()
    mixed = post(url, {"cpu": 1, "memory": GIB, "target_hosts": ["https://other:8443", A]})
    assert mixed.status_code == 200
    assert mixed.json()["host"] == A
    assert any(r["host"] == "https://other:8443" and r["code"] == "unknown" for r in mixed.json()["rejected"])
    only_unknown = post(url, {"cpu": 1, "memory": GIB, "target_hosts": ["https://other:8443"]})
    assert only_unknown.status_code == 400
    assert only_unknown.json()["field"] == "target_hosts"
    assert only_unknown.json()["error"] == ("invalid request: target_hosts: none of https://other:8443 is a host of this scheduler "
                                            "(its hosts: lxd1, lxd2)")


@pytest.mark.parametrize("body, field, message", [
    ({"cpu": 2}, "memory", "Field required"),
    ({"memory": GIB}, "cpu", "Field required"),
    ({"cpu": 0, "memory": GIB}, "cpu", "Input should be greater than 0"),
    ({"cpu": 2, "memory": "2GB"}, "memory", "Input should be a valid integer"),
    ({"cpu": 2, "memory": GIB, "count": 2}, "count", "unknown field"),
    ({"cpu": 2, "memory": GIB, "target_hosts": "https://lxd1.test:8443"}, "target_hosts", "Input should be a valid list"),
    ([1, 2], "body", "the body must be a JSON object, e.g. {\"instance_requirements\": {\"cpu\": 2, \"memory\": 2048}}"),
])
def test_malformed_flat_bodies_are_400_naming_the_field(start, body, field, message):
    answer = post(start(), body)
    assert answer.status_code == 400
    assert (answer.json()["field"], answer.json()["error"]) == (field, f"invalid request: {field}: {message}")


def test_no_room_keeps_the_rdd_error_body(start):
    answer = post(start(), {"cpu": 64, "memory": GIB})
    assert answer.status_code == 409
    assert answer.json()["error"] == "no suitable node found"


def test_nested_body_answers_the_name(start):
    answer = post(start(), {"instance_requirements": {"cpu": 1, "memory": 1024}}).json()
    assert answer["host"] == answer["name"] == "lxd1"


def test_scheduled_resources_in_the_shape_of_the_go_service(lxd, start):
    url = start()
    assert requests.get(url + "/scheduled-resources", timeout=10).json() == {"resources": {}, "stats": {}}
    before = time.time()
    for _request in range(2):
        post(url, {"cpu": 1, "memory": GIB, "target_hosts": [B]})
    body = requests.get(url + "/scheduled-resources", timeout=10).json()
    assert list(body["resources"]) == [B] and list(body["stats"]) == [B]
    assert [(r["cpu"], r["memory"]) for r in body["resources"][B]] == [(1, GIB), (1, GIB)]
    stats = body["stats"][B]
    assert {k: stats[k] for k in ("host_name", "total_cpu", "total_memory", "count")} == {
        "host_name": B, "total_cpu": 2, "total_memory": 2 * GIB, "count": 2}
    assert stats["oldest_request"] == body["resources"][B][0]["time"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)", stats["oldest_request"])
    assert abs(_epoch(stats["oldest_request"]) - before) < 5


def _epoch(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_port_falls_back_to_PORT(make_settings, cert_files):  # pylint: disable=invalid-name
    cert, key = cert_files
    hosts = '[{"host": "https://192.0.2.1:8443", "client_cert": "%s", "client_key": "%s"}]' % (cert, key)
    assert load_settings(env={"LXD_MULTI_HOSTS": hosts, "PORT": "9090"}).port == 9090
    assert load_settings(env={"LXD_MULTI_HOSTS": hosts, "PORT": "9090", "LXD_MULTI_SCHEDULER_PORT": "9191"}).port == 9191
    assert load_settings(env={"LXD_MULTI_HOSTS": hosts, "PORT": "9090"}, port=9292).port == 9292
    with pytest.raises(ConfigError, match=r", PORT\): port: Input should be a valid integer"):
        load_settings(env={"LXD_MULTI_HOSTS": hosts, "PORT": "http"})


def test_unverified_hosts_only_with_the_opt_in(make_settings, cert_files):
    cert, _key = cert_files
    assert make_settings().unverified_hosts() == []
    pinned = make_settings(hosts_extra={"lxd2": {"server_cert": cert}}, lxd_insecure_skip_verify=True)
    assert pinned.unverified_hosts() == ["lxd1"]
    hosts = '[{"host": "https://192.0.2.1:8443", "client_cert": "%s", "client_key": "%s"}]' % (cert, _key)
    env = {"LXD_MULTI_HOSTS": hosts, "LXD_MULTI_SCHEDULER_LXD_INSECURE_SKIP_VERIFY": "true"}
    assert load_settings(env=env).unverified_hosts() == ["https://192.0.2.1:8443"]
    with pytest.raises(ConfigError, match="lxd_insecure_skip_verify: Input should be a valid boolean"):
        load_settings(env={**env, "LXD_MULTI_SCHEDULER_LXD_INSECURE_SKIP_VERIFY": "maybe"})


@pytest.mark.parametrize("levelno, name", [(10, "DEBUG"), (20, "INFO"), (30, "WARN"), (40, "ERROR"), (50, "ERROR+4"), (25, "INFO+2")])
def test_slog_level_names(levelno, name):
    assert logs.slog_level(levelno) == name


def test_rfc3339_nano_like_go(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert logs.rfc3339_nano(1700000000.0) == "2023-11-14T22:13:20Z"  # no fraction when it is zero
        assert logs.rfc3339_nano(1700000000.5) == "2023-11-14T22:13:20.5Z"  # trailing zeros dropped
        monkeypatch.setenv("TZ", "Asia/Tokyo")
        time.tzset()
        assert logs.rfc3339_nano(1700000000.25) == "2023-11-15T07:13:20.25+09:00"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_record_keys_in_slog_order():
    record = logging.LogRecord("lxd_multi_scheduler.api", logging.WARNING, __file__, 7, "careful", (), None, func="f")
    setattr(record, "lxdms_fields", {"host": "lxd1"})
    line = logs.JsonFormatter().format(record)
    assert re.fullmatch(r'\{"time":"[^"]+","level":"WARN","source":\{"function":"[^"]+\.f","file":"[^"]+","line":7\},'
                        r'"msg":"careful","logger":"lxd_multi_scheduler.api","host":"lxd1"\}', line), line


class _RecordingAdapter(requests.adapters.HTTPAdapter):
    """Answers every request with LXD's ``GET /1.0`` body and records the ``verify`` it was sent with."""

    def __init__(self):
        super().__init__()
        self.verify = []

    def send(self, request, **kwargs):  # pylint: disable=arguments-differ
        self.verify.append(kwargs.get("verify"))
        response = requests.Response()
        response.status_code, response._content = 200, b'{"type": "sync", "metadata": {"auth": "trusted"}}'  # pylint: disable=protected-access
        return response


@pytest.mark.parametrize("kwargs, verify", [
    ({"insecure_skip_verify": True}, False),
    ({"ca_cert": "/etc/lxd-ca.pem"}, "/etc/lxd-ca.pem"),
    ({"ca_cert": "/etc/lxd-ca.pem", "insecure_skip_verify": True}, "/etc/lxd-ca.pem"),  # a trust anchor wins over the opt-in
])
def test_lxd_client_verify_survives_a_ca_bundle_in_the_environment(monkeypatch, cert_files, kwargs, verify):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/env/bundle.pem")
    client = LxdClient("lxd1", A, *cert_files, **kwargs)
    adapter = _RecordingAdapter()
    client.session.mount(A + "/", adapter)
    assert client.get("/1.0") == {"auth": "trusted"}
    assert adapter.verify == [verify]
