"""The HTTP API over real HTTP (uvicorn in a thread): request validation, error bodies, auth, metrics, logs."""

from __future__ import annotations

import io
import json
import logging
import re
import time

import pytest
import requests

from lxd_multi_scheduler import logs


def schedule(url, body, **kwargs):
    return requests.post(url + "/schedule", json=body, timeout=10, **kwargs)


REQ = {"instance_requirements": {"cpu": 2, "memory": 2048}}


def test_schedule_answers_the_host(lxd, start):
    lxd.set("lxd1", used_cores=4)
    url = start()
    response = schedule(url, REQ)
    assert response.status_code == 200
    body = response.json()
    assert body["host"] == "lxd2"
    assert re.fullmatch(r"[0-9a-f]{32}", body["reservation_id"])
    assert body["placements"][0]["reservation_id"] == body["reservation_id"]
    assert body["reservation_expires_in"] == 60


@pytest.mark.parametrize("body, field, message", [
    ({}, "instance_requirements", "Field required"),
    ({"instance_requirements": {"memory": 2048}}, "instance_requirements.cpu", "Field required"),
    ({"instance_requirements": {"cpu": 2}}, "instance_requirements.memory", "Field required"),
    ({"instance_requirements": {"cpu": 0, "memory": 2048}}, "instance_requirements.cpu", "Input should be greater than 0"),
    ({"instance_requirements": {"cpu": -1, "memory": 2048}}, "instance_requirements.cpu", "Input should be greater than 0"),
    ({"instance_requirements": {"cpu": "2", "memory": 2048}}, "instance_requirements.cpu", "Input should be a valid integer"),
    ({"instance_requirements": {"cpu": 1.5, "memory": 2048}}, "instance_requirements.cpu", "Input should be a valid integer"),
    ({"instance_requirements": {"cpu": True, "memory": 2048}}, "instance_requirements.cpu", "Input should be a valid integer"),
    ({"instance_requirements": {"cpu": 2, "memory": "2GiB"}}, "instance_requirements.memory", "Input should be a valid integer"),
    ({"instance_requirements": {"cpu": 2, "memory": 2048, "disk": 10}}, "instance_requirements.disk", "unknown field"),
    ({"instance_requirements": [2, 2048]}, "instance_requirements", "Input should be a valid dictionary or object to extract fields from"),
    ({**REQ, "strategy": "random"}, "strategy", "unknown strategy 'random'; known: balanced, least-allocated-cpu, most-free"),
    ({**REQ, "count": 0}, "count", "Input should be greater than or equal to 1"),
    ({**REQ, "instance_name": ""}, "instance_name", "String should have at least 1 character"),
    ({**REQ, "reserve": "yes"}, "reserve", "Input should be a valid boolean"),
    ({**REQ, "zone": "az1"}, "zone", "unknown field"),
])
def test_malformed_bodies_are_400_naming_the_field(start, body, field, message):
    response = schedule(start(), body)
    assert response.status_code == 400
    error = response.json()
    assert error["field"] == field
    assert error["error"] == f"invalid request: {field}: {message}"
    assert {"field": field, "message": message} in error["details"]


@pytest.mark.parametrize("data, message", [
    (b"{not json", "the body is not valid JSON"),
    (b"", "a JSON body is required"),
])
def test_unparseable_bodies(start, data, message):
    response = requests.post(start() + "/schedule", data=data, headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 400
    assert response.json()["field"] == "body"
    assert message in response.json()["error"]


def test_no_room_is_409_with_details_per_host(start):
    response = schedule(start(), {"instance_requirements": {"cpu": 64, "memory": 1024}})
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "no suitable node found"
    assert [(d["host"], d["code"]) for d in body["details"]] == [("lxd1", "cpu"), ("lxd2", "cpu")]
    assert all(re.match(r"no room: needs 64 cores, has 8(\.0)? free", d["reason"]) for d in body["details"])


def test_no_readable_server_is_503(lxd, start):
    lxd.down.update(lxd1="cannot reach https://lxd1.test:8443: refused", lxd2="TLS error")
    response = schedule(start(), REQ)
    assert response.status_code == 503
    assert response.json()["details"][0]["reason"] == "unhealthy: cannot reach https://lxd1.test:8443: refused"


def test_reservations_can_be_listed_and_released(start):
    url = start()
    rid = schedule(url, REQ).json()["reservation_id"]
    listed = requests.get(url + "/reservations", timeout=10).json()
    assert [r["id"] for r in listed["reservations"]] == [rid] and listed["store"] == "memory"
    assert requests.delete(f"{url}/reservations/{rid}", timeout=10).status_code == 204
    missing = requests.delete(f"{url}/reservations/{rid}", timeout=10)
    assert missing.status_code == 404 and missing.json() == {"error": f"no active reservation {rid}"}
    bad = requests.delete(f"{url}/reservations/not-an-id", timeout=10)
    assert bad.status_code == 400 and bad.json()["field"] == "path.reservation_id"


def test_hosts_report(lxd, start):
    lxd.down["lxd2"] = "refused"
    hosts = requests.get(start() + "/hosts", timeout=10).json()["hosts"]
    assert [(h["name"], h["ok"], h["error"]) for h in hosts] == [("lxd1", True, ""), ("lxd2", False, "refused")]


def test_healthz_metrics_and_openapi(lxd, start):
    url = start()
    lxd.down["lxd2"] = "refused"
    schedule(url, REQ)
    schedule(url, {"instance_requirements": {"cpu": 0, "memory": 1}})
    schedule(url, {"instance_requirements": {"cpu": 99, "memory": 1}})
    health = requests.get(url + "/healthz", timeout=10).json()
    assert health == {"status": "ok", "store": "memory", "hosts_configured": 2, "hosts_up": 1, "hosts_down": 1}

    metrics = requests.get(url + "/metrics", timeout=10)
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for line in metrics.text.splitlines():
        if line.startswith("#"):
            assert re.fullmatch(r"# (HELP|TYPE) lxd_multi_scheduler_\w+ .+", line)
            continue
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
    assert samples['lxd_multi_scheduler_schedule_total{result="scheduled"}'] == 1
    assert samples['lxd_multi_scheduler_schedule_total{result="invalid"}'] == 1
    assert samples['lxd_multi_scheduler_schedule_total{result="no_fit"}'] == 1
    assert samples['lxd_multi_scheduler_host_up{host="lxd1"}'] == 1
    assert samples['lxd_multi_scheduler_host_up{host="lxd2"}'] == 0
    assert samples['lxd_multi_scheduler_http_requests_total{method="POST",path="/schedule",status="409"}'] == 1
    assert samples['lxd_multi_scheduler_http_request_duration_seconds_count{path="/schedule"}'] == 3
    assert samples["lxd_multi_scheduler_reservations_active"] == 1

    spec = requests.get(url + "/openapi.json", timeout=10).json()
    responses = spec["paths"]["/schedule"]["post"]["responses"]
    assert set(responses) == {"200", "400", "401", "409", "503"}
    assert "instance_requirements" in spec["components"]["schemas"]["ScheduleBody"]["properties"]


def test_api_keys(start):
    url = start(api_keys=["key-one", "key-two"])
    missing = schedule(url, REQ)
    assert missing.status_code == 401
    assert missing.json() == {"error": "missing API key: send it in the X-API-Key header (or as Authorization: Bearer)"}
    wrong = schedule(url, REQ, headers={"X-API-Key": "key-three"})
    assert wrong.status_code == 401 and wrong.json() == {"error": "invalid API key"}
    assert requests.get(url + "/metrics", timeout=10).status_code == 401
    assert requests.get(url + "/openapi.json", timeout=10).status_code == 401
    assert requests.get(url + "/healthz", timeout=10).status_code == 200  # probes need no key
    assert schedule(url, REQ, headers={"X-API-Key": "key-two"}).status_code == 200
    # A Prometheus scrape job sends the key as a bearer token (its "authorization" setting).
    assert requests.get(url + "/metrics", headers={"Authorization": "Bearer key-one"}, timeout=10).status_code == 200
    assert requests.get(url + "/metrics", headers={"Authorization": "Bearer key-three"}, timeout=10).status_code == 401
    assert requests.get(url + "/metrics", headers={"Authorization": "Basic a2V5LW9uZQ=="}, timeout=10).json() == missing.json()


def test_logs_are_json_lines_without_secrets(lxd, start):
    stream = io.StringIO()
    logs.configure("debug", stream)
    try:
        lxd.down["lxd2"] = "cannot reach https://lxd2.test:8443: refused"
        url = start(api_keys=["very-secret-key"])
        schedule(url, REQ, headers={"X-API-Key": "very-secret-key"})
        schedule(url, REQ, headers={"X-API-Key": "wrong-secret-key"})
        # The server logs a request once its answer is sent, so the last line may still be on its way.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(
                json.loads(line).get("status") == 401 for line in stream.getvalue().splitlines()):
            time.sleep(0.02)
    finally:
        logging.getLogger().handlers.clear()
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    # log/slog's JSON handler shape: time, level, source, msg first, in that order, then the attributes.
    assert all(list(r)[:5] == ["time", "level", "source", "msg", "logger"] for r in records)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)", r["time"]) for r in records)
    assert {r["level"] for r in records} <= {"DEBUG", "INFO", "WARN", "ERROR"}
    events = {(r.get("event"), r.get("status", r.get("result"))) for r in records}
    assert {("http_request", 200), ("http_request", 401), ("schedule", "scheduled")} <= events
    assert any(r.get("event") == "lxd_read" and r["level"] == "WARN" and r["host"] == "lxd2" for r in records)
    assert "secret-key" not in stream.getvalue()


# -- the allow-list (hosts) and max_skew ---------------------------------------------------------


@pytest.mark.parametrize("hosts, message", [
    ([], "List should have at least 1 item after validation, not 0"),
    (["lxd1", "lxd1"], "host names must be unique; repeated: lxd1"),
    (["lxd1", ""], "String should have at least 1 character"),
    ("lxd1", "Input should be a valid list"),
])
def test_malformed_hosts_are_400(start, hosts, message):
    response = schedule(start(), {**REQ, "hosts": hosts})
    assert response.status_code == 400
    error = response.json()
    assert error["field"].startswith("hosts") and message in error["error"]


@pytest.mark.parametrize("value, message", [
    (0, "Input should be greater than or equal to 1"),
    (1.5, "Input should be a valid integer"),
    ("2", "Input should be a valid integer"),
])
def test_malformed_max_skew_is_400(start, value, message):
    response = schedule(start(), {**REQ, "max_skew": value})
    assert response.status_code == 400
    assert response.json()["error"] == f"invalid request: max_skew: {message}"


def test_hosts_allow_list_limits_the_choice_and_reports_the_others(lxd, start):
    lxd.set("lxd1", used_cores=6)  # lxd2 has the fewest allocated cores, but only lxd1 is allowed
    url = start()
    body = schedule(url, {**REQ, "hosts": ["lxd1"], "reserve": False}).json()
    assert [p["host"] for p in body["placements"]] == ["lxd1"]
    assert body["rejected"] == [{"host": "lxd2", "host_id": "https://lxd2.test:8443", "zone": "default", "code": "hosts",
                                 "reason": "not in the request's hosts"}]
    assert schedule(url, {**REQ, "reserve": False}).json()["host"] == "lxd2"  # without the list, every host


def test_hosts_left_out_are_not_read(lxd, start):
    lxd.down["lxd2"] = "refused"
    url = start()
    assert schedule(url, {**REQ, "hosts": ["lxd1"], "reserve": False}).status_code == 200
    assert lxd.reads["lxd2"] == 0 and lxd.reads["lxd1"] == 1


def test_unknown_host_names_are_reported_not_dropped(start):
    url = start()
    body = schedule(url, {**REQ, "hosts": ["lxd2", "lxd9"], "reserve": False}).json()
    assert body["host"] == "lxd2"
    assert [(r["host"], r["code"], r["reason"]) for r in body["rejected"]] == [
        ("lxd1", "hosts", "not in the request's hosts"),
        ("lxd9", "unknown", "not a host of this scheduler (GET /hosts lists them)"),
    ]
    only_unknown = schedule(url, {**REQ, "hosts": ["lxd8", "lxd9"]})
    assert only_unknown.status_code == 400
    assert only_unknown.json() == {
        "error": "invalid request: hosts: none of lxd8, lxd9 is a host of this scheduler (its hosts: lxd1, lxd2)",
        "field": "hosts",
        "details": [{"field": "hosts", "message": "none of lxd8, lxd9 is a host of this scheduler (its hosts: lxd1, lxd2)"}],
    }
    assert requests.get(url + "/reservations", timeout=10).json()["reservations"] == []


def test_no_room_on_the_allowed_hosts_is_409_listing_the_others_too(lxd, start):
    lxd.set("lxd1", used_cores=8)
    response = schedule(start(), {**REQ, "hosts": ["lxd1", "lxd9"]})
    assert response.status_code == 409
    assert [(d["host"], d["code"]) for d in response.json()["details"]] == [("lxd1", "cpu"), ("lxd2", "hosts"), ("lxd9", "unknown")]


def test_no_readable_allowed_host_is_503_even_when_others_are_up(lxd, start):
    lxd.down["lxd1"] = "refused"
    response = schedule(start(), {**REQ, "hosts": ["lxd1"]})
    assert response.status_code == 503
    assert [(d["host"], d["code"]) for d in response.json()["details"]] == [("lxd1", "unhealthy"), ("lxd2", "hosts")]


def test_max_skew_lets_anti_affinity_win_over_the_zone_spread(lxd, start):
    # az1 has three servers, az2 one. Four instances: with max_skew 1 the fourth must go to az2 (2 + 2),
    # sharing lxd4 with the second; with max_skew 2 it may go to lxd3, still empty, in az1 (3 + 1).
    for name in ("lxd3", "lxd4"):
        lxd.set(name)
    zones = {"lxd1": "az1", "lxd2": "az1", "lxd3": "az1", "lxd4": "az2"}
    url = start(names=tuple(zones), hosts_extra={name: {"zone": zone} for name, zone in zones.items()})
    body = {**REQ, "count": 4, "reserve": False}
    default = schedule(url, body).json()
    assert sorted(p["host"] for p in default["placements"]) == ["lxd1", "lxd2", "lxd4", "lxd4"]
    assert schedule(url, {**body, "max_skew": 1}).json()["placements"] == default["placements"]
    wider = schedule(url, {**body, "max_skew": 2}).json()
    assert sorted(p["host"] for p in wider["placements"]) == ["lxd1", "lxd2", "lxd3", "lxd4"]
    assert wider["warnings"] == []


def test_max_skew_decides_the_spread_warning(lxd, start):
    lxd.set("lxd3", used_cores=8)  # az2's only server is full
    zones = {"lxd1": "az1", "lxd2": "az1", "lxd3": "az2"}
    url = start(names=tuple(zones), hosts_extra={name: {"zone": zone} for name, zone in zones.items()})
    body = {**REQ, "count": 2, "reserve": False}
    [warning] = schedule(url, body).json()["warnings"]
    assert warning.startswith("zone spread is 2 (az1: 2, az2: 0), asked for at most 1: zone az2 ran out of room")
    assert schedule(url, {**body, "max_skew": 2}).json()["warnings"] == []


def test_openapi_documents_hosts_and_max_skew(start):
    spec = requests.get(start() + "/openapi.json", timeout=10).json()
    properties = spec["components"]["schemas"]["ScheduleBody"]["properties"]
    assert "code 'unknown'" in properties["hosts"]["description"]
    assert properties["max_skew"]["default"] == 1 and properties["max_skew"]["minimum"] == 1
    assert "code `hosts`" in spec["paths"]["/schedule"]["post"]["responses"]["409"]["description"]
