"""maas-sim: start-up and `GET /machines/` with 10,000 machines, and the latency of common API calls.

The server runs as a subprocess (the `maas-sim` console script) on loopback; requests are signed with
OAuth PLAINTEXT by the test client in `tests/integration/maas_sim/simapi.py` and sent with `requests`.
"HTTP" times include sending the request and receiving the whole body, not decoding the JSON (shown
separately). Each machine's JSON is cached and rebuilt only when the machine or something it shows
changes, so the first listing after start-up ("cold") renders everything and later ones ("warm") send
the cached pieces. "server only" calls the ASGI application in-process (no socket, no client) to show
how much of the HTTP time is the transfer of ~69 MB. Latencies are the median (p95 in the notes) of 50
calls against the default scenario. The machine the numbers come from may be busy with other jobs.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "maas_sim"))

from maas_sim.server import Simulator  # noqa: E402  pylint: disable=wrong-import-position
from simapi import Api, oauth_header  # noqa: E402  pylint: disable=wrong-import-position,import-error
from simharness import SimServer  # noqa: E402  pylint: disable=wrong-import-position,import-error

MACHINES = 10_000
BULK = {
    "generate_machines": [{"count": MACHINES, "prefix": "bulk", "status": "ready", "cpu_count": 4, "memory": 8192}],
    "subnets": [{"cidr": "10.20.0.0/16", "gateway_ip": "10.20.0.1"}],
}
CALLS = 50


def timed(func):
    """``(seconds, result)`` of one call."""
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def row(benchmark, metric, value, unit, notes=""):
    """One result row."""
    return {"benchmark": benchmark, "metric": metric, "value": value, "unit": unit, "notes": notes}


def latency(func, calls=CALLS):
    """Median and 95th percentile of ``func()`` in milliseconds."""
    samples = sorted(timed(func)[0] * 1000 for _call in range(calls))
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def server_side_list(scenario_file: str, api_key: str, runs: int = 5) -> list:
    """Seconds the ASGI application itself spends on ``GET /machines/`` (no sockets, no client), first call then warm ones."""
    sim = Simulator(scenario_path=scenario_file)

    async def call():
        scope = {"type": "http", "method": "GET", "path": "/MAAS/api/2.0/machines/", "query_string": b"", "scheme": "http",
                 "headers": [(b"authorization", oauth_header(api_key).encode())], "server": ("127.0.0.1", 80),
                 "client": ("127.0.0.1", 1), "root_path": ""}

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            del message

        await sim(scope, receive, send)

    return [timed(lambda: asyncio.run(call()))[0] for _run in range(runs)]


def bulk_rows() -> list:
    """Start-up and listing with 10,000 machines."""
    name = f"{MACHINES:,} machines"
    rows = []
    started, sim = timed(lambda: SimServer(scenario=BULK))
    try:
        rows.append(row(name, "start-up (scenario build, ready file)", started, "s",
                        "subprocess start to ready file, including rendering every machine's JSON once"))
        api = Api(sim.url, sim.api_key)
        cold, response = timed(lambda: api.get("machines/"))
        size = len(response.content)
        decode, machines = timed(response.json)
        assert len(machines) == MACHINES
        rows.append(row(name, "GET /machines/ first call (HTTP)", cold, "s", f"first listing after start-up; {size / 1e6:.1f} MB"))
        warm = sorted(timed(lambda: api.get("machines/"))[0] for _run in range(5))
        rows.append(row(name, "GET /machines/ warm (HTTP)", statistics.median(warm), "s", f"median of 5, min {warm[0]:.3f} s"))
        rows.append(row(name, "client JSON decode of the list", decode, "s", "json.loads in the client, for comparison"))
        target = machines[MACHINES // 2]
        median, p95 = latency(lambda: api.get("machines/", params={"hostname": target["hostname"]}), 20)
        rows.append(row(name, "GET /machines/?hostname=", median, "ms", f"p95 {p95:.1f} ms; filter over all machines"))
        api.ok("POST", f"machines/{target['system_id']}/", params={"op": "deploy"})
        after, _response = timed(lambda: api.get("machines/"))
        rows.append(row(name, "GET /machines/ after one deploy (HTTP)", after, "s", "only the changed machine is re-rendered"))
        inside = server_side_list(sim.scenario_file, sim.api_key)
        rows.append(row(name, "GET /machines/ warm (server only)", statistics.median(inside[1:]), "s",
                        f"in-process ASGI call, median of {len(inside) - 1}; first call {inside[0]:.2f} s"))
    finally:
        sim.close()
    return rows


def call_rows() -> list:
    """Latency of the calls clients make most, default scenario."""
    rows = []
    sim = SimServer(timings={"commissioning": 0, "deploying": 0, "releasing": 0})
    try:
        api = Api(sim.url, sim.api_key)
        anon = Api(sim.url, None)
        machine = api.ok("GET", "machines/", params={"hostname": "db-01"})[0]

        def compose_and_delete():
            composed = api.ok("POST", "vm-hosts/2/", params={"op": "compose"}, data={"cores": "2", "memory": "4096"})
            api.ok("DELETE", f"machines/{composed['system_id']}/")

        def reserve_and_release():
            reserved = api.ok("POST", "ipaddresses/", params={"op": "reserve"}, data={"subnet": "1"})
            api.request("POST", "ipaddresses/", params={"op": "release"}, data={"ip": reserved["ip"]})

        cases = (
            ("GET version/ (anonymous)", lambda: anon.get("version/"), 1),
            ("GET users/?op=whoami", lambda: api.get("users/", params={"op": "whoami"}), 1),
            ("GET machines/ (9 machines)", lambda: api.get("machines/"), 1),
            ("GET machines/{system_id}/", lambda: api.get(f"machines/{machine['system_id']}/"), 1),
            ("GET vm-hosts/ (6 hosts)", lambda: api.get("vm-hosts/"), 1),
            ("POST machines/?op=allocate dry_run", lambda: api.post("machines/", op="allocate", data={"zone": "az1", "dry_run": "1"}), 1),
            ("GET subnets/1/?op=statistics", lambda: api.get("subnets/1/", params={"op": "statistics"}), 1),
            ("compose + DELETE (2 requests)", compose_and_delete, 2),
            ("ipaddresses reserve + release (2 requests)", reserve_and_release, 2),
        )
        for label, func, requests_per_call in cases:
            median, p95 = latency(func)
            rows.append(row("API call latency", label, median, "ms", f"p95 {p95:.1f} ms; {requests_per_call} request(s), median of {CALLS}"))
    finally:
        sim.close()
    return rows


def run() -> list:
    """All rows."""
    return bulk_rows() + call_rows()


if __name__ == "__main__":
    for result in run():
        print(result)
