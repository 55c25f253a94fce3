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
from lxd_multi_scheduler.api import create_app
from lxd_multi_scheduler.reservations import MemoryStore


@pytest.fixture
def start(lxd, make_settings, serve):
    """``start(**settings) -> base URL`` of a scheduler over the scripted servers."""

    def run(**overrides):
        settings = make_settings(**overrides)
        return serve(create_app(settings, lxd.inventory(settings), MemoryStore()))

    return run


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
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    events = {(r.get("event"), r.get("status", r.get("result"))) for r in records}
    assert {("http_request", 200), ("http_request", 401), ("schedule", "scheduled")} <= events
    assert any(r.get("event") == "lxd_read" and r["level"] == "warning" and r["host"] == "lxd2" for r in records)
    assert "secret-key" not in stream.getvalue()
