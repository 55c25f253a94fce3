"""The test harness itself: start/stop/restart, request log, faults, reset."""

from __future__ import annotations

from simapi import Api


def test_fixture_server_answers(maas_sim, api):
    assert maas_sim.url.startswith("http://127.0.0.1:") and maas_sim.url.endswith("/MAAS")
    assert maas_sim.api_url == maas_sim.url + "/api/2.0/"
    assert api.ok("GET", "users/", params={"op": "whoami"})["username"] == "lxdcp"


def test_request_log_and_writes(maas_sim, api):
    seq = maas_sim.seq()
    api.ok("GET", "machines/")
    api.ok("POST", "tags/", data={"name": "from-test"})
    entries = maas_sim.requests(seq)
    assert [(e["method"], e["path"], e["status"], e["write"]) for e in entries] == [
        ("GET", "/MAAS/api/2.0/machines/", 200, False),
        ("POST", "/MAAS/api/2.0/tags/", 200, True),
    ]
    assert [e["path"] for e in maas_sim.writes_since(seq)] == ["/MAAS/api/2.0/tags/"]
    assert maas_sim.seq() == entries[-1]["seq"]


def test_reset_between_tests_removes_previous_changes(api):
    names = [tag["name"] for tag in api.ok("GET", "tags/")]
    assert "from-test" not in names


def test_sim_factory_restart_keeps_state_and_port(sim_factory, tmp_path):
    server = sim_factory(state=str(tmp_path / "state.db"))
    client = Api(server.url, server.api_key)
    client.ok("POST", "tags/", data={"name": "kept"})
    url = server.url
    server.restart()
    assert server.url == url
    assert "kept" in [tag["name"] for tag in client.ok("GET", "tags/")]


def test_no_admin_api_serves_the_maas_api_alone(sim_factory):
    """``--no-admin-api``: /_sim/ answers 404 as on a real MAAS (no reset, no faults, no state), the MAAS API works."""
    server = sim_factory(extra_args=["--no-admin-api"])
    client = Api(server.url, server.api_key)
    client.ok("POST", "tags/", data={"name": "kept-without-admin"})
    for method, path in (("GET", ""), ("GET", "state"), ("POST", "reset"), ("PUT", "faults"), ("GET", "requests")):
        response = client.session.request(method, server.admin_url + path, json={"latency": 1}, timeout=30)
        assert response.status_code == 404, (method, path, response.text)
    assert "kept-without-admin" in [tag["name"] for tag in client.ok("GET", "tags/")]
    assert client.ok("GET", "users/", params={"op": "whoami"})["username"] == "lxdcp"
