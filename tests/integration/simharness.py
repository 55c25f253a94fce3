"""Start and drive maas-sim servers from tests.

``SimServer`` runs the ``maas-sim`` console script of the current virtualenv as
a subprocess on a free loopback port and talks to its ``/_sim/`` admin API
with ``urllib`` only (no project code), so it can be used by every test::

    with SimServer(timings=SimServer.FAST_TIMINGS) as sim:
        client = MyClient(sim.url, sim.api_key)
        seq = sim.seq()
        ...
        assert sim.writes_since(seq) == []
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml

DEFAULT_API_KEY = "lxdcp:sim-token:sim-secret"
DEFAULT_USER_API_KEY = "lxdcp-user:user-token:user-secret"


def maas_sim_executable() -> str:
    """The ``maas-sim`` script next to the running interpreter (the project venv)."""
    return os.path.join(os.path.dirname(sys.executable), "maas-sim")


def default_scenario_path() -> str:
    """Path of the packaged default scenario."""
    from maas_sim.scenario import DEFAULT_SCENARIO  # pylint: disable=import-outside-toplevel

    return DEFAULT_SCENARIO


class SimError(RuntimeError):
    """The simulator could not be started or did not answer."""


class SimServer:
    """A maas-sim subprocess.

    ``scenario`` is a path or a dict (written to a temporary YAML file);
    ``timings`` overrides the scenario's transition durations (seconds);
    ``state`` is a SQLite file kept across ``restart()``; ``api_key`` replaces
    the first admin's key. The server starts in the constructor.
    """

    FAST_TIMINGS = {"commissioning": 0.2, "deploying": 0.3, "releasing": 0.1, "disk_erasing": 0.2}

    def __init__(self, scenario=None, state=None, api_key=None, extra_args=(), timings=None, startup_timeout: float = 30.0):
        self._dir = tempfile.mkdtemp(prefix="maas-sim-")
        self.state_file = state
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout
        self.scenario_file, data = self._scenario(scenario, timings)
        self.api_key = api_key or _admin_key(data) or DEFAULT_API_KEY
        self._api_key_arg = api_key
        self.user_api_key = _user_key(data) or DEFAULT_USER_API_KEY
        self.port = 0
        self.url = ""
        self.api_url = ""
        self.proc = None
        self._log_path = os.path.join(self._dir, "maas-sim.log")
        self.start()

    def _scenario(self, scenario, timings):
        """Materialise the scenario as a file; returns ``(path or None, data)``."""
        if scenario is None and timings is None:
            return None, None
        if isinstance(scenario, dict):
            data = dict(scenario)
        else:
            with open(scenario or default_scenario_path(), encoding="utf-8") as handle:
                data = yaml.safe_load(handle) or {}
        if timings:
            data["timings"] = dict(data.get("timings") or {}, **timings)
        path = os.path.join(self._dir, "scenario.yml")
        with open(path, "w", encoding="utf-8") as handle:
            yaml.safe_dump(data, handle)
        return path, data

    # --- process ----------------------------------------------------------------

    def start(self) -> None:
        """Start the subprocess and wait (bounded) for its ready file."""
        ready = os.path.join(self._dir, "ready")
        if os.path.exists(ready):
            os.unlink(ready)
        cmd = [maas_sim_executable(), "--host", "127.0.0.1", "--port", str(self.port), "--ready-file", ready]
        if self.scenario_file:
            cmd += ["--scenario", self.scenario_file]
        if self.state_file:
            cmd += ["--state", self.state_file]
        if self._api_key_arg:
            cmd += ["--api-key", self._api_key_arg]
        cmd += self.extra_args
        log = open(self._log_path, "ab")  # pylint: disable=consider-using-with
        try:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)  # pylint: disable=consider-using-with
        finally:
            log.close()
        deadline = time.monotonic() + self.startup_timeout
        while not os.path.exists(ready):
            if self.proc.poll() is not None:
                raise SimError(f"maas-sim exited with {self.proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise SimError(f"maas-sim did not become ready within {self.startup_timeout} s:\n{self.log_tail()}")
            time.sleep(0.02)
        with open(ready, encoding="utf-8") as handle:
            self.url = handle.read().strip()
        self.api_url = self.url + "/api/2.0/"
        self.port = int(self.url.rsplit(":", 1)[1].split("/", 1)[0])

    def stop(self) -> None:
        """Terminate the subprocess (SIGTERM, then SIGKILL after 10 s)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL the subprocess (a crash: requests in flight are lost, the state file keeps what was committed)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self) -> None:
        """Stop and start again on the same port with the same state file."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop and remove the temporary directory."""
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's output."""
        try:
            with open(self._log_path, encoding="utf-8", errors="replace") as handle:
                return "".join(handle.readlines()[-lines:])
        except OSError:
            return ""

    # --- /_sim/ admin API ---------------------------------------------------------

    @property
    def admin_url(self) -> str:
        """Base of the admin API."""
        return self.url.rsplit("/MAAS", 1)[0] + "/_sim/"

    def _admin(self, method: str, path: str, payload=None):
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(self.admin_url + path, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise SimError(f"/_sim/{path}: HTTP {exc.code}: {exc.read().decode(errors='replace')}") from None
        return json.loads(body) if body else None

    def requests(self, since: int = 0) -> list:
        """Request-log entries after ``since`` (``seq``, ``time``, ``method``, ``path``, ``op``, ``status``, ``write``, ``user``, ``query``)."""
        return self._admin("GET", f"requests?since={int(since)}")["requests"]

    def seq(self) -> int:
        """Current request-log position (pass it to ``requests``/``writes_since`` later)."""
        return self._admin("GET", f"requests?since={2**62}")["next"]

    def writes_since(self, seq: int) -> list:
        """POST/PUT/DELETE API requests logged after ``seq``."""
        return [entry for entry in self.requests(seq) if entry["write"]]

    def clear_requests(self) -> None:
        """Empty the request log (numbering continues)."""
        self._admin("DELETE", "requests")

    def faults(self, **settings) -> dict:
        """Merge fault settings (see docs/maas-sim.md) and return the active ones."""
        return self._admin("PUT", "faults", settings)

    def clear_faults(self) -> dict:
        """Remove every fault."""
        return self._admin("DELETE", "faults")

    def reset(self) -> None:
        """Reload the scenario (the request log is kept)."""
        self._admin("POST", "reset")

    def state(self) -> dict:
        """Dump of the whole simulated state."""
        return self._admin("GET", "state")

    def info(self) -> dict:
        """``GET /_sim/``: version, URLs, scenario, state file, user names."""
        return self._admin("GET", "")


def _users(data) -> list:
    return list((data or {}).get("users") or [])


def _admin_key(data):
    for user in _users(data):
        if user.get("is_superuser"):
            return user.get("api_key") or (user.get("api_keys") or [None])[0]
    return None


def _user_key(data):
    for user in _users(data):
        if not user.get("is_superuser"):
            return user.get("api_key") or (user.get("api_keys") or [None])[0]
    return None
