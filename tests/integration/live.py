"""Live-MAAS tests: the integration tests that need no ``/_sim/`` control, run against any MAAS.

``make integration-live`` runs the tests marked ``live`` (``pytest -m live``) with ``LXDCP_LIVE=1``. They get a
``MaasTarget`` (fixture ``maas_target``): the MAAS named by the environment, or, in an ordinary run, a maas-sim of
their own. Against a live MAAS:

* the target comes from ``MAAS_URL``/``MAAS_API_KEY`` (or ``MAAS_ENDPOINT``/``MAAS_APIKEY``), the zone and the pool the
  tests may use from ``LXDCP_LIVE_ZONE`` and ``LXDCP_LIVE_POOL``, and nothing starts unless ``LXDCP_LIVE_OK=yes``
  confirms the target (``settings_from_env`` says what is missing);
* every object a test creates is named with the test's unique prefix (``lxdcp-live-<hex>-...``); after the test,
  passed or failed, ``sweep`` removes whatever carries the prefix (machines released then deleted, DNS records,
  the cluster tag), and at the end of the session the shared ``lxdcp-managed`` tag if the session created it and no
  machine carries it;
* fixtures that drive maas-sim's admin API (``maas_sim``, ``sim_factory``...) skip, and unmarked tests are deselected.

``python tests/integration/live.py snapshot FILE`` / ``compare FILE`` (with the same environment) record the objects
MAAS holds and list those left behind since; ``make integration-live-sim`` uses them around a run against a maas-sim
started with ``--no-admin-api``. Requests are signed by ``maas_sim/simapi.py``'s client (no collection code), so the
clean-up and the check do not depend on the code under test.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "maas_sim"))

from simapi import Api  # noqa: E402  pylint: disable=wrong-import-position,import-error

LIVE_ENV = "LXDCP_LIVE"
MANAGED_TAG = "lxdcp-managed"
RELEASABLE = {"Allocated", "Deployed", "Deploying", "Failed deployment"}


class LiveRefused(RuntimeError):
    """The environment does not name a target, or does not confirm it."""


def live_mode(environ=None) -> bool:
    """Whether this run targets a live MAAS (``LXDCP_LIVE=1``, set by ``make integration-live``)."""
    return (os.environ if environ is None else environ).get(LIVE_ENV) == "1"


@dataclasses.dataclass(frozen=True)
class LiveSettings:
    """Where the live tests go: the MAAS, and the zone and pool they may create objects in."""

    url: str
    api_key: str
    zone: str
    pool: str


def settings_from_env(environ=None) -> LiveSettings:
    """The live target from the environment; ``LiveRefused`` naming every missing or unconfirmed setting."""
    env = os.environ if environ is None else environ
    url = env.get("MAAS_URL") or env.get("MAAS_ENDPOINT") or ""
    api_key = env.get("MAAS_API_KEY") or env.get("MAAS_APIKEY") or ""
    zone, pool = env.get("LXDCP_LIVE_ZONE", ""), env.get("LXDCP_LIVE_POOL", "")
    problems = []
    if not url:
        problems.append("MAAS_URL (or MAAS_ENDPOINT) is not set")
    if not api_key:
        problems.append("MAAS_API_KEY (or MAAS_APIKEY) is not set")
    elif len(api_key.split(":")) != 3:
        problems.append("the API key is not consumer:token:secret")
    if not zone:
        problems.append("LXDCP_LIVE_ZONE (the zone the tests may create VMs in) is not set")
    if not pool:
        problems.append("LXDCP_LIVE_POOL (the resource pool the tests may create VMs in) is not set")
    if env.get("LXDCP_LIVE_OK") != "yes":
        problems.append("LXDCP_LIVE_OK=yes is not set: the tests create and delete machines named lxdcp-live-* in zone %s, "
                        "pool %s of %s; set it to confirm that target" % (zone or "?", pool or "?", url or "?"))
    if problems:
        raise LiveRefused("refusing to run the live-MAAS tests: " + "; ".join(problems))
    return LiveSettings(url.rstrip("/"), api_key, zone, pool)


class MaasTarget:
    """The MAAS a live test works on: ``url``, ``api_key``, ``zone``, ``pool``, ``name(suffix)`` and, in an ordinary
    run only, ``sim`` (the maas-sim behind it, whose request log the tests may read; None against a live MAAS)."""

    def __init__(self, settings: LiveSettings, sim=None):
        self.settings = settings
        self.url, self.api_key, self.zone, self.pool = settings.url, settings.api_key, settings.zone, settings.pool
        self.sim = sim
        self.api = Api(self.url, self.api_key)
        self.prefix = ""
        self.managed_tag_existed = MANAGED_TAG in self._names("tags/", "name")

    # -- what the playbook runner asks of a server (playbook_runner.Playbook) --

    def seq(self):
        """The simulator's request-log position; None against a live MAAS (it has no request log to read)."""
        return self.sim.seq() if self.sim is not None else None

    def requests(self, since):
        """The simulator's requests since ``since``; None against a live MAAS."""
        return self.sim.requests(since) if self.sim is not None else None

    # -- names and clean-up --

    def begin(self) -> str:
        """A fresh prefix for the next test (``lxdcp-live-<8 hex>``): a valid MAAS host name, tag and DNS label."""
        self.prefix = "lxdcp-live-" + secrets.token_hex(4)
        return self.prefix

    def name(self, suffix: str) -> str:
        """``<prefix>-<suffix>``: the name of an object this test creates."""
        return "%s-%s" % (self.prefix, suffix)

    def sweep(self, timeout: float = 600) -> list:
        """Remove every object named with the current prefix; returns what was removed (``["machine x", ...]``)."""
        prefix, removed = self.prefix, []
        if not prefix:
            return removed
        machines = [m for m in self.api.ok("GET", "machines/") if m["hostname"].startswith(prefix)]
        for machine in machines:
            if machine["status_name"] in RELEASABLE:
                self.api.ok("POST", "machines/%s/" % machine["system_id"], params={"op": "release"})
        for machine in machines:
            self._wait_not(machine["system_id"], {"Releasing", "Disk erasing"} | RELEASABLE, timeout)
            self.api.ok("DELETE", "machines/%s/" % machine["system_id"])
            removed.append("machine %s" % machine["hostname"])
        for record in self.api.ok("GET", "dnsresources/"):
            if record["fqdn"].startswith(prefix):
                self.api.ok("DELETE", "dnsresources/%s/" % record["id"])
                removed.append("dnsresource %s" % record["fqdn"])
        for tag in self.api.ok("GET", "tags/"):
            if tag["name"].startswith(prefix) or tag["name"].startswith("lxdcp-cluster-" + prefix):
                self.api.ok("DELETE", "tags/%s/" % tag["name"])
                removed.append("tag %s" % tag["name"])
        return removed

    def finish(self) -> list:
        """End of the session: the ``lxdcp-managed`` tag goes if this session created it and no machine carries it."""
        if self.managed_tag_existed or MANAGED_TAG not in self._names("tags/", "name"):
            return []
        if self.api.ok("GET", "machines/", params={"tags": MANAGED_TAG}):
            return []
        self.api.ok("DELETE", "tags/%s/" % MANAGED_TAG)
        return ["tag %s" % MANAGED_TAG]

    def _wait_not(self, system_id, statuses, timeout):
        deadline = time.monotonic() + timeout
        while True:
            response = self.api.get("machines/%s/" % system_id)
            if response.status_code == 404 or response.json()["status_name"] not in statuses:
                return
            if time.monotonic() > deadline:
                raise AssertionError("machine %s still %s after %s s" % (system_id, response.json()["status_name"], timeout))
            time.sleep(1)

    def _names(self, path, key):
        return {entry[key] for entry in self.api.ok("GET", path)}


@contextlib.contextmanager
def one_test(target: MaasTarget):
    """A test's scope on ``target`` (the ``maas_target`` fixture): a fresh prefix, and whatever carries it swept at
    the end, whether the test passed, failed or raised."""
    target.begin()
    try:
        yield target
    finally:
        target.sweep()


# -- the leftover check: what MAAS holds before and after a run --------------------------------------


def snapshot(api: Api) -> dict:
    """The objects a run could leave behind, by kind: machines, tags, DNS records, IP addresses, VM hosts' usage."""
    state = {
        "machines": sorted(m["hostname"] for m in api.ok("GET", "machines/")),
        "tags": sorted(t["name"] for t in api.ok("GET", "tags/")),
        "dnsresources": sorted(r["fqdn"] for r in api.ok("GET", "dnsresources/")),
        "ipaddresses": sorted(a["ip"] for a in api.ok("GET", "ipaddresses/", params={"all": "true"})),
    }
    hosts = api.get("vm-hosts/")
    if hosts.status_code == 200:  # 410 on MAAS 4.0: no VM hosts
        state["vm_host_usage"] = sorted("%s cores=%s memory=%s" % (h["name"], h["used"]["cores"], h["used"]["memory"])
                                        for h in hosts.json())
    return state


def leftovers(before: dict, after: dict) -> dict:
    """``{kind: [entries in after but not in before]}`` (only kinds with some)."""
    found = {kind: sorted(set(after.get(kind, [])) - set(before.get(kind, []))) for kind in after}
    return {kind: entries for kind, entries in found.items() if entries}


def admin_api_status(url: str) -> int:
    """The HTTP status of ``GET <server>/_sim/`` (404 on a real MAAS, and on a maas-sim started with --no-admin-api)."""
    try:
        with urllib.request.urlopen(url.rstrip("/").rsplit("/MAAS", 1)[0] + "/_sim/", timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def main(argv) -> int:
    """``live.py snapshot FILE`` | ``compare FILE`` | ``no-admin-api``, against the MAAS of the environment."""
    if not ((len(argv) == 2 and argv[0] in ("snapshot", "compare")) or argv == ["no-admin-api"]):
        print("usage: live.py snapshot FILE | compare FILE | no-admin-api", file=sys.stderr)
        return 2
    env = os.environ
    url, key = env.get("MAAS_URL") or env.get("MAAS_ENDPOINT"), env.get("MAAS_API_KEY") or env.get("MAAS_APIKEY")
    if not url or not key:
        print("live.py: MAAS_URL and MAAS_API_KEY must be set", file=sys.stderr)
        return 2
    if argv[0] == "no-admin-api":
        status = admin_api_status(url)
        if status != 404:
            print("live.py: %s/_sim/ answered %s: the target serves maas-sim's admin API" % (url, status), file=sys.stderr)
            return 1
        return 0
    api = Api(url, key)
    if argv[0] == "snapshot":
        with open(argv[1], "w", encoding="utf-8") as handle:
            json.dump(snapshot(api), handle, indent=1)
        return 0
    with open(argv[1], encoding="utf-8") as handle:
        before = json.load(handle)
    left = leftovers(before, snapshot(api))
    if left:
        print("live.py: objects left behind in MAAS: %s" % json.dumps(left), file=sys.stderr)
        return 1
    print("live.py: nothing left behind (%s)" % ", ".join("%d %s" % (len(v), k) for k, v in sorted(before.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
