"""Run ``lxd-multi-scheduler`` as a real process (console script) on a free port, and load it.

:func:`load` is the bounded load of the load test (``test_sched_load.py``) and of the benchmark
(``benchmarks/bench_scheduler.py``): one implementation, so the test checks what the benchmark measures.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import requests
import yaml

from lxdharness import terminate


def console_script() -> list[str]:
    """The installed console script, else the module."""
    script = os.path.join(os.path.dirname(sys.executable), "lxd-multi-scheduler")
    if os.path.exists(script):
        return [script]
    found = shutil.which("lxd-multi-scheduler")
    return [found] if found else [sys.executable, "-m", "lxd_multi_scheduler.cli"]


class SchedulerProcess:
    """One scheduler with a configuration file, ``LXD_MULTI_HOSTS`` and optional extra environment (a None value unsets)."""

    def __init__(self, workdir: str, hosts: list[dict], config: dict | None = None, env: dict | None = None, name: str = "sched"):
        os.makedirs(workdir, exist_ok=True)
        self.name = name
        self.config_path = os.path.join(workdir, f"{name}.yml")
        self.ready_file = os.path.join(workdir, f"{name}.ready")
        self.log_path = os.path.join(workdir, f"{name}.log")
        with open(self.config_path, "w", encoding="utf-8") as handle:
            yaml.safe_dump(config or {}, handle)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.ready_file)
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("LXD_MULTI", "REDIS_URL"))}
        environment.update({"LXD_MULTI_HOSTS": json.dumps(hosts), "LXD_MULTI_SCHEDULER_PORT": "0"})
        environment.update(env or {})
        environment = {key: value for key, value in environment.items() if value is not None}  # env {NAME: None} unsets NAME
        self.session = requests.Session()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(  # pylint: disable=consider-using-with
                console_script() + ["--config", self.config_path, "--ready-file", self.ready_file],
                env=environment, stdout=log, stderr=subprocess.STDOUT)
        self.url = self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"scheduler {self.name} exited with {self.process.returncode}: {self.output()[-2000:]}")
            if os.path.exists(self.ready_file):
                with open(self.ready_file, encoding="utf-8") as handle:
                    url = handle.read().strip()
                if url:
                    return url
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"scheduler {self.name} not ready after {timeout} s: {self.output()[-2000:]}")

    def output(self) -> str:
        """Everything the process wrote (JSON log lines)."""
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def log_records(self) -> list[dict]:
        """The log lines, parsed (every line must be one JSON object)."""
        return [json.loads(line) for line in self.output().splitlines() if line.strip()]

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        """An HTTP request to the scheduler."""
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.url + path, **kwargs)

    def schedule(self, cpu: int, memory: int, **fields) -> requests.Response:
        """``POST /schedule``."""
        return self.request("POST", "/schedule", json={"instance_requirements": {"cpu": cpu, "memory": memory}, **fields})

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL)."""
        self.session.close()
        terminate(self.process)


@dataclasses.dataclass
class LoadResult:
    """What a :func:`load` run saw: one latency per answered or failed request, answers by status."""

    latencies: list[float]  # seconds, request sent to answer read (or to the transport error)
    statuses: collections.Counter  # HTTP status, or "transport error"
    granted: collections.Counter  # host -> answers 200
    refusals: list[dict]  # bodies of the 409 answers
    unexpected: list[str]  # "<status>: <body or error>" of the first answers that were neither 200 nor 409
    seconds: float
    timed_out: bool  # the time bound stopped the run before every request was sent

    def errors(self, expected=(200,)) -> int:
        """Answers whose status is not in ``expected``, transport errors included."""
        return sum(count for status, count in self.statuses.items() if status not in expected)


def load(urls: list[str], total: int, body: dict, clients: int = 4, max_seconds: float = 60.0) -> LoadResult:
    """Send ``total`` ``POST /schedule`` with ``body`` from ``clients`` threads (keep-alive sessions), round-robin over ``urls``.

    Bounded in count and time: the run stops after ``total`` requests or ``max_seconds``, whichever comes first.
    """
    result = LoadResult([], collections.Counter(), collections.Counter(), [], [], 0.0, False)
    lock = threading.Lock()
    counter = iter(range(total))
    deadline = time.monotonic() + max_seconds

    def client(offset: int) -> None:
        with requests.Session() as session:
            while True:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                if time.monotonic() >= deadline:
                    result.timed_out = True
                    return
                url = urls[(index + offset) % len(urls)]
                start = time.perf_counter()
                try:
                    response = session.post(url + "/schedule", json=body, timeout=30)
                    status, answer = response.status_code, response.json()
                except (requests.RequestException, ValueError) as exc:
                    status, answer = "transport error", {"error": str(exc)}
                elapsed = time.perf_counter() - start
                with lock:
                    result.latencies.append(elapsed)
                    result.statuses[status] += 1
                    if status == 200:
                        result.granted[answer["host"]] += 1
                    elif status == 409:
                        result.refusals.append(answer)
                    elif len(result.unexpected) < 10:
                        result.unexpected.append(f"{status}: {json.dumps(answer)[:500]}")

    threads = [threading.Thread(target=client, args=(offset,)) for offset in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - start
    return result
