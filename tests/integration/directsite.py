"""A MAAS 4.0 site for direct mode: maas-sim 4.0 whose LXD-host machines are real VM-capable LXD daemons.

    site = DirectSite(lxd_vm_cluster, tmp_path)   # one LXD-host machine per daemon: lxd-az1-a, lxd-az2-a, ...
    site.sim                                       # the SimServer (MAAS 4.0, fast timings)
    site.entries                                   # lxd_hosts: {name, client_cert, client_key, server_cert, bridge}
    mark = site.mark(); ...; site.lxd_writes(mark) # POST/PUT/PATCH/DELETE the daemons handled since (their debug logs)
    site.instances()                               # {daemon name: [(project, instance), ...]}
    site.reset(); site.close()

The scenario is maas-sim's packaged 4.0 scenario with its ``lxd_hosts`` cut to the first host of each
zone, ``lxd_endpoint`` set to a daemon's URL: MAAS's ``lxd`` power driver (maas-sim's) talks to that
daemon with the certificate MAAS generated for each machine; the collection with the test client
certificate (``lxd_hosts`` entries, the daemon's own certificate pinned).

``LxdHosts`` is that site without the simulator (the scenario file and the daemons' side), for a maas-sim
started otherwise: ``scripts/demo.py --lxd`` runs one detached from itself.
"""

from __future__ import annotations

import os

import yaml

from lxdprocs import fingerprint
from simharness import SimServer

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def scenario_40() -> dict:
    """maas-sim's packaged MAAS 4.0 scenario."""
    from maas_sim.scenario import DEFAULT_SCENARIO_40  # pylint: disable=import-outside-toplevel

    with open(DEFAULT_SCENARIO_40, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


class LxdHosts:
    """The daemons of ``cluster`` (an ``lxdvm.LxdVmCluster``) as LXD-host machines of a maas-sim 4.0 scenario (``scenario_path``)."""

    def __init__(self, cluster, workdir, maas_version="4.0"):
        self.cluster = cluster
        self.workdir = str(workdir)
        scenario = scenario_40()
        scenario["maas_version"] = maas_version
        firsts = [host for host in scenario["lxd_hosts"] if host["hostname"].endswith("-a")]
        if len(cluster.daemons) > len(firsts):
            raise ValueError("the 4.0 scenario has %d zones for %d daemons" % (len(firsts), len(cluster.daemons)))
        self.hosts = {}
        lxd_hosts = []
        for daemon, host in zip(cluster.daemons, firsts):
            lxd_hosts.append(dict(host, lxd_endpoint=daemon.url))
            self.hosts[host["hostname"]] = daemon
        scenario["lxd_hosts"] = lxd_hosts
        self.scenario_path = os.path.join(self.workdir, "maas40-direct.yml")
        with open(self.scenario_path, "w", encoding="utf-8") as handle:
            yaml.safe_dump(scenario, handle, sort_keys=False)
        self.client_fingerprint = fingerprint(cluster.client_cert)

    @property
    def entries(self) -> list[dict]:
        """``lxd_hosts`` of the collection: each LXD-host machine's credentials, pinned certificate and bridge."""
        return [{"name": name, "client_cert": self.cluster.client_cert, "client_key": self.cluster.client_key,
                 "server_cert": daemon.server_cert, "bridge": daemon.bridge} for name, daemon in self.hosts.items()]

    def mark(self) -> dict:
        """Where each daemon's log ends now."""
        return {name: daemon.log_mark() for name, daemon in self.hosts.items()}

    def lxd_requests(self, mark: dict, collection_only: bool = False) -> list[dict]:
        """The HTTPS requests the daemons handled since ``mark``, each with ``host`` and ``by`` (collection or maas)."""
        requests = []
        for name, daemon in self.hosts.items():
            for request in daemon.api_requests(mark.get(name, 0)):
                by = "collection" if request["client"] == self.client_fingerprint else "maas"
                if collection_only and by != "collection":
                    continue
                requests.append(dict(request, host=name, by=by))
        return requests

    def lxd_writes(self, mark: dict) -> list[str]:
        """``["POST lxd-az1-a /1.0/instances", ...]``: the writes any client sent to the daemons since ``mark``."""
        return ["%s %s %s" % (r["method"], r["host"], r["url"]) for r in self.lxd_requests(mark) if r["method"] in WRITE_METHODS]

    def instances(self) -> dict:
        """``{host: [(project, instance), ...]}`` of every daemon."""
        return {name: sorted(daemon.instances()) for name, daemon in self.hosts.items()}

    def instance(self, host: str, name: str, project: str = "default") -> dict:
        """One instance's record, read over the daemon's unix socket."""
        return self.hosts[host].query("/1.0/instances/%s?project=%s" % (name, project))

    def trusted(self) -> dict:
        """``{host: [certificate name, ...]}``: what each daemon trusts beyond the test client certificate."""
        return {name: sorted(c["name"] for c in daemon.trusted() if c["fingerprint"] != self.client_fingerprint)
                for name, daemon in self.hosts.items()}


class DirectSite(LxdHosts):
    """maas-sim 4.0 (``sim``, fast timings unless ``timings`` says otherwise; ``{}``: the scenario's) on ``LxdHosts``."""

    def __init__(self, cluster, workdir, timings=None, maas_version="4.0"):
        super().__init__(cluster, workdir, maas_version)
        self.sim = SimServer(scenario=self.scenario_path, timings=SimServer.FAST_TIMINGS if timings is None else timings)

    def reset(self) -> None:
        """The daemons empty (trusting only the test client), maas-sim back to its scenario, no faults."""
        self.cluster.reset()
        self.sim.reset()
        self.sim.clear_faults()

    def close(self) -> None:
        """Stop maas-sim (the daemons belong to the cluster fixture)."""
        self.sim.close()
