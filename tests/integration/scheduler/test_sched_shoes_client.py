"""shoes-lxd-multi's server, unchanged, using this scheduler: its client's exact request, over two real LXD daemons.

:class:`ShoesServer` does what the server of shoes-lxd-multi's branch ``feat/add-lxd-scheduler`` does with a
scheduler, step by step as its source reads (no code of it is used):

- ``server/pkg/config/config_hostconfig.go``: ``LXD_MULTI_HOSTS`` is a JSON array of
  ``{"host", "client_cert", "client_key"}``; a host is known by the string ``host`` (``HostConfig.LxdHost``);
- ``server/pkg/api/pool.go`` (``selectHostUsingScheduler``): ``target_hosts`` are the ``LxdHost`` of the
  candidate hosts, ``memory`` is bytes (``units.FromHumanSize``), and the answer's ``host`` must equal one
  target's ``LxdHost``, otherwise it falls back to its own ordering, as on any error;
- ``server/pkg/api/scheduler_client.go``: ``json.Marshal`` of ``ScheduleRequest{CPU int "cpu"; Memory int
  "memory"; TargetHosts []string "target_hosts,omitempty"}``, ``POST <LXD_MULTI_SCHEDULER_ADDRESS>/schedule``
  with ``Content-Type: application/json`` by Go's ``http.Client{Timeout: 10 * time.Second}`` (``User-Agent:
  Go-http-client/1.1``, ``Accept-Encoding: gzip``, the deadline covering the whole exchange); a status other
  than 200 is an error carrying the body's ``error``; a 200 is decoded as ``{"host": string}``.

The scheduler runs as shoes-lxd-multi's branch runs its own: the same ``LXD_MULTI_HOSTS`` (no server
certificate), the port in ``PORT``, and the explicit opt-in to unverified LXD servers.
"""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.parse

from lxdharness import free_port

GIB = 1024 ** 3
GO_TIMEOUT = 10.0  # http.Client{Timeout: 10 * time.Second}
SLOG_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)"


def go_json(value) -> bytes:
    """``json.Marshal``: compact, struct field order, HTML characters escaped, UTF-8."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text.encode()


class SchedulerError(Exception):
    """What ``SchedulerClient.Schedule`` returns as an error (the server then falls back to its own ordering)."""


class ShoesServer:
    """shoes-lxd-multi's server as far as the scheduler sees it."""

    def __init__(self, lxd_multi_hosts: str, scheduler_address: str):
        self.hosts = [node["host"] for node in json.loads(lxd_multi_hosts)]  # HostConfig.LxdHost
        self.address = scheduler_address  # LXD_MULTI_SCHEDULER_ADDRESS
        self.requests: list[bytes] = []

    def post_schedule(self, cpu: int, memory: int, target_hosts: list[str]) -> tuple[int, dict]:
        """``SchedulerClient.Schedule``'s HTTP exchange; the 10 s deadline covers it all (else a timeout error)."""
        request = {"cpu": cpu, "memory": memory}
        if target_hosts:  # omitempty
            request["target_hosts"] = target_hosts
        body = go_json(request)
        self.requests.append(body)
        url = urllib.parse.urlsplit(self.address)
        deadline = time.monotonic() + GO_TIMEOUT
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=GO_TIMEOUT)
        try:
            connection.putrequest("POST", "/schedule", skip_host=True, skip_accept_encoding=True)
            for name, value in (("Host", url.netloc), ("User-Agent", "Go-http-client/1.1"), ("Content-Length", str(len(body))),
                                ("Content-Type", "application/json"), ("Accept-Encoding", "gzip")):
                connection.putheader(name, value)
            connection.endheaders(body)
            connection.sock.settimeout(max(0.001, deadline - time.monotonic()))
            response = connection.getresponse()
            data = response.read()
        except OSError as exc:
            raise SchedulerError(f"failed to make request: {exc} (Client.Timeout exceeded?)") from None
        finally:
            connection.close()
        if time.monotonic() > deadline:
            raise SchedulerError("context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
        assert response.getheader("Content-Encoding") is None  # Go would gunzip; nothing is compressed here
        return response.status, json.loads(data)

    def select_host(self, cpu: int, memory: int, targets: list[str]) -> str:
        """``selectHostUsingScheduler``: the target whose address the scheduler answered, or an error."""
        status, answer = self.post_schedule(cpu, memory, targets)
        if status != 200:
            raise SchedulerError(f"scheduler returned status {status}: {answer['error']}")
        host = answer["host"]
        if not isinstance(host, str) or host not in targets:
            raise SchedulerError(f"scheduler selected host {host!r} not found in targets")
        return host


def test_unchanged_shoes_host_list_needs_the_opt_in(lxd, start_scheduler):
    """Verified TLS stays the default: LXD's self-signed certificates fail it, every server is unreadable, /schedule is 503."""
    hosts = lxd.shoes_hosts()
    port = free_port()
    scheduler = start_scheduler(hosts, env={"LXD_MULTI_SCHEDULER_PORT": None, "PORT": str(port)}, name="verified")
    assert scheduler.url == f"http://127.0.0.1:{port}"
    shoes = ShoesServer(json.dumps(hosts), scheduler.url)
    status, answer = shoes.post_schedule(1, GIB, shoes.hosts)
    assert (status, answer["error"]) == (503, "no suitable node found")
    assert all("certificate verify failed" in d["reason"] for d in answer["details"])
    assert not any(r.get("event") == "tls_insecure" for r in scheduler.log_records())


def test_shoes_lxd_multi_client_against_real_lxd(lxd, start_scheduler):
    lxd1, lxd2 = lxd.daemons
    lxd1.create("busy", cpu=3, memory="1GiB")
    hosts = lxd.shoes_hosts()
    lxd_multi_hosts = json.dumps(hosts)
    port = free_port()
    scheduler = start_scheduler(hosts, {"cpu_over_commit": 32}, name="shoes", env={
        "LXD_MULTI_SCHEDULER_PORT": None, "PORT": str(port), "LXD_MULTI_SCHEDULER_LXD_INSECURE_SKIP_VERIFY": "true"})
    assert scheduler.url == f"http://127.0.0.1:{port}"  # PORT, as the branch's scheduler reads it
    shoes = ShoesServer(lxd_multi_hosts, scheduler.url)

    # The first request reads both LXD servers (nothing cached) and is still answered well inside the client's 10 s.
    start = time.monotonic()
    assert shoes.select_host(2, 2 * GIB, shoes.hosts) == lxd2.url  # fewer allocated cores; the address as in LXD_MULTI_HOSTS
    assert time.monotonic() - start < GO_TIMEOUT
    assert shoes.requests[0] == (b'{"cpu":2,"memory":2147483648,"target_hosts":["%s","%s"]}' % (lxd1.url.encode(), lxd2.url.encode()))
    # target_hosts restricts the choice to the server shoes-lxd-multi can use.
    assert shoes.select_host(1, GIB, [lxd1.url]) == lxd1.url
    # go-units' "2GB" (decimal) is asked as 2e9 bytes: reserved as 1908 MiB, rounded up.
    assert shoes.select_host(1, 2_000_000_000, shoes.hosts) == lxd2.url
    # Too big for any server: the RDD's error body, an error for the client (which falls back).
    status, refused = shoes.post_schedule(1, 1024 * 1024 * GIB, shoes.hosts)
    assert (status, refused["error"]) == (409, "no suitable node found")

    # The requirements document's nested body still works, names hosts by name (here: the URL) and counts MiB.
    nested = scheduler.schedule(1, 1024, hosts=[lxd1.url])
    assert nested.status_code == 200, nested.text
    assert nested.json()["host"] == lxd1.url

    reads = {h["url"]: h for h in scheduler.request("GET", "/hosts").json()["hosts"]}
    assert reads[lxd1.url]["ok"] and reads[lxd2.url]["ok"]  # really read, over unverified TLS
    assert reads[lxd1.url]["used_cores"] == 3 and reads[lxd1.url]["tls_verified"] is False

    scheduled = scheduler.request("GET", "/scheduled-resources").json()
    assert sorted(scheduled["stats"]) == sorted([lxd1.url, lxd2.url])
    assert [(r["cpu"], r["memory"]) for r in scheduled["resources"][lxd2.url]] == [(2, 2 * GIB), (1, 1908 * 1024 * 1024)]
    assert {k: scheduled["stats"][lxd1.url][k] for k in ("host_name", "total_cpu", "total_memory", "count")} == {
        "host_name": lxd1.url, "total_cpu": 2, "total_memory": 2 * GIB, "count": 2}

    records = scheduler.log_records()
    assert all(list(record)[:4] == ["time", "level", "source", "msg"] and re.fullmatch(SLOG_TIME, record["time"]) for record in records)
    insecure = [r for r in records if r.get("event") == "tls_insecure"]
    assert len(insecure) == 1 and insecure[0]["level"] == "WARN"
    assert insecure[0]["hosts"] == [lxd1.url, lxd2.url] and "NOT verified" in insecure[0]["msg"]
    requests_logged = [r for r in records if r.get("event") == "http_request" and r["path"] == "/schedule"]
    assert [r["status"] for r in requests_logged] == [200, 200, 200, 409, 200]
