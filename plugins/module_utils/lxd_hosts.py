# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The LXD hosts of direct mode (a MAAS without VM hosts): which LXD servers, and what they hold.

Which servers: MAAS machines that run LXD, found by a tag (``lxd_host_tag``, default ``lxd-host``),
so that their zone, pool, tags and health come from MAAS; and the entries of ``lxd_hosts`` - the
``LXD_MULTI_HOSTS`` format lxd-multi-scheduler reads (``host``, ``client_cert``, ``client_key``,
optionally ``name``, ``server_cert``, ``ca_cert``, ``cpu_over_commit``, ``memory_over_commit``,
``zone``, ``pool``, ``tags``, plus ``bridge`` and ``project``). An entry whose ``name`` is the
hostname of such a machine gives that machine's LXD endpoint and credentials; a machine without an
entry uses its workload annotation ``lxd_endpoint`` (else ``https://<its first address>:8443``)
and the default credentials; an entry without a machine is a server MAAS does not know.

What they hold: :func:`lxd_candidates` reads each server (``/1.0/resources``, its instances with
their ``limits.cpu``/``limits.memory``, its storage pools) and gives the placement core's view of
it, as ``maas_view.candidate_hosts`` does for MAAS VM hosts: cores and memory allocated to
instances, over-commit applied, room per storage pool, health (MAAS's machine, and whether LXD
answers, trusts the client, can run VMs, has the project and the bridge) and the cluster's VMs
already on it (found by their ``user.lxdcp.*`` marks).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re

from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError, redact_url
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.errors import LxdError
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.errors import MaasGone
from ansible_collections.lxdcp.maas.plugins.module_utils.maas_view import Candidates, candidate_hosts, cluster_vms, replica_counts
from ansible_collections.lxdcp.maas.plugins.module_utils.ownership import LXD_HOSTNAME_KEY, instance_ownership
from ansible_collections.lxdcp.maas.plugins.module_utils.placement.core import Host
from ansible_collections.lxdcp.maas.plugins.module_utils.vmhosts import capacity_view, machine_health

ENV_HOSTS = "LXD_MULTI_HOSTS"
DEFAULT_TAG = "lxd-host"
DEFAULT_BRIDGE = "br0"
LXD_PORT = 8443
MIB = 1024 ** 2
#: The keys of an ``lxd_hosts`` entry: LXD_MULTI_HOSTS's, lxd-multi-scheduler's, and this collection's.
ENTRY_KEYS = ("host", "client_cert", "client_key", "name", "server_cert", "ca_cert", "cpu_over_commit",
              "memory_over_commit", "zone", "pool", "tags", "bridge", "project")
#: The options of the ``lxdcp.maas.lxd_hosts`` documentation fragment, as an argument spec.
LXD_ARGUMENT_SPEC = dict(
    lxd_via=dict(type="str", choices=["auto", "vm-host", "direct"], default="auto"),
    lxd_hosts=dict(type="list", elements="dict"),
    lxd_host_tag=dict(type="str", default=DEFAULT_TAG),
    lxd_client_cert=dict(type="path"),
    lxd_client_key=dict(type="path"),
    lxd_ca_path=dict(type="path"),
    lxd_validate_certs=dict(type="bool", default=True),
    lxd_bridge=dict(type="str", default=DEFAULT_BRIDGE),
)
_MEMORY_RE = re.compile(r"^\s*([0-9.]+)\s*([KMGTPE]?)(i?)B?\s*$", re.IGNORECASE)


@dataclasses.dataclass
class Defaults:
    """What an LXD host takes when its entry (or its lack of one) does not say: credentials, trust, bridge, project."""

    @classmethod
    def from_options(cls, options, project=None):
        """From the ``lxdcp.maas.lxd_hosts`` options (a mapping) and the LXD project."""
        return cls(client_cert=options.get("lxd_client_cert"), client_key=options.get("lxd_client_key"),
                   ca_path=options.get("lxd_ca_path"), validate_certs=options.get("lxd_validate_certs", True),
                   bridge=options.get("lxd_bridge") or DEFAULT_BRIDGE, project=project or "default",
                   tag=options.get("lxd_host_tag") or DEFAULT_TAG, timeout=options.get("timeout") or cls.timeout,
                   retries=cls.retries if options.get("retries") is None else options["retries"])

    client_cert: object = None
    client_key: object = None
    ca_path: object = None
    validate_certs: bool = True
    bridge: str = DEFAULT_BRIDGE
    project: str = "default"
    tag: str = DEFAULT_TAG
    cpu_over_commit: float = 1.0
    memory_over_commit: float = 1.0
    timeout: int = 30
    retries: int = 5


def host_entries(value, environ=None):
    """The ``lxd_hosts`` entries: ``value`` (a list of dicts), else the JSON of ``LXD_MULTI_HOSTS``; LxdcpError on bad input."""
    environ = os.environ if environ is None else environ
    source = "lxd_hosts"
    if value is None and environ.get(ENV_HOSTS):
        source = ENV_HOSTS
        try:
            value = json.loads(environ[ENV_HOSTS])
        except ValueError as exc:
            raise LxdcpError("%s is not JSON: %s" % (ENV_HOSTS, exc)) from None
    if value is None:
        return []
    if not isinstance(value, list):
        raise LxdcpError("%s must be a list of LXD servers ({host, client_cert, client_key, ...}), got a %s"
                         % (source, type(value).__name__))
    entries = []
    for index, entry in enumerate(value):
        what = "%s[%d]" % (source, index)
        if not isinstance(entry, dict):
            raise LxdcpError("%s must be a mapping, got a %s" % (what, type(entry).__name__))
        unknown = sorted(set(entry) - set(ENTRY_KEYS))
        if unknown:
            raise LxdcpError("%s has unknown key(s) %s (known: %s)" % (what, ", ".join(unknown), ", ".join(ENTRY_KEYS)))
        if not entry.get("host") and not entry.get("name"):
            raise LxdcpError("%s needs host (the LXD API URL, e.g. https://10.0.0.1:8443) or name (a MAAS machine tagged as "
                             "an LXD host)" % what)
        if entry.get("host") and not str(entry["host"]).startswith("https://"):
            raise LxdcpError("%s: host %r must be an https:// URL of the LXD API" % (what, redact_url(str(entry["host"]))))
        if entry.get("server_cert") and entry.get("ca_cert"):
            raise LxdcpError("%s: give server_cert (LXD's certificate, pinned) or ca_cert (a CA), not both" % what)
        entries.append(dict(entry, name=entry.get("name") or entry["host"]))
    names = [entry["name"] for entry in entries]
    repeated = sorted(set(name for name in names if names.count(name) > 1))
    if repeated:
        raise LxdcpError("%s names a server more than once: %s" % (source, ", ".join(repeated)))
    return entries


def lxd_hosts(maas, entries, defaults):
    """The LXD hosts, each a dict: ``name``, ``url``, ``zone``, ``pool``, ``tags``, ``machine`` (MAAS's, or None),
    ``bridge``, ``project``, ratios and the client settings (``client``). One MAAS read (the tagged machines)."""
    by_name = dict((entry["name"], entry) for entry in entries)
    machines = maas.list_machines_tagged([defaults.tag]) if defaults.tag else []
    hosts = []
    for machine in sorted(machines, key=lambda m: m.get("hostname") or ""):
        entry = by_name.pop(machine.get("hostname"), {})
        url = entry.get("host") or (machine.get("owner_data") or {}).get("lxd_endpoint") or _address_url(machine)
        hosts.append(_host(entry, defaults, name=machine.get("hostname"), url=url, machine=machine,
                           zone=(machine.get("zone") or {}).get("name") or "default",
                           pool=(machine.get("pool") or {}).get("name") or "default",
                           tags=tuple(machine.get("tag_names") or ())))
    for name, entry in by_name.items():
        if not entry.get("host"):
            raise LxdcpError("lxd_hosts names %s, which is no MAAS machine tagged %s: give its host (the LXD API URL), or "
                             "tag the machine in MAAS" % (name, defaults.tag))
        hosts.append(_host(entry, defaults, name=name, url=entry["host"], machine=None, zone=entry.get("zone") or "default",
                           pool=entry.get("pool") or "default", tags=tuple(entry.get("tags") or ())))
    return hosts


def _address_url(machine):
    addresses = machine.get("ip_addresses") or []
    if not addresses:
        return None
    address = addresses[0]
    return "https://%s:%d" % ("[%s]" % address if ":" in address else address, LXD_PORT)


def _host(entry, defaults, **fields):
    client = dict(
        url=fields["url"],
        client_cert=entry.get("client_cert") or defaults.client_cert,
        client_key=entry.get("client_key") or defaults.client_key,
        server_cert=entry.get("server_cert"),
        ca_path=None if entry.get("server_cert") else entry.get("ca_cert") or defaults.ca_path,
        validate_certs=defaults.validate_certs,
        project=entry.get("project") or defaults.project,
        timeout=defaults.timeout,
        retries=defaults.retries,
    )
    return dict(fields, client=client, bridge=entry.get("bridge") or defaults.bridge, project=client["project"],
                cpu_over_commit=float(entry.get("cpu_over_commit") or defaults.cpu_over_commit),
                memory_over_commit=float(entry.get("memory_over_commit") or defaults.memory_over_commit))


def connect(host, logger=None, warn=None):
    """An ``LxdClient`` for ``host`` (LxdcpError when its settings are incomplete)."""
    settings = host["client"]
    if not settings["url"]:
        raise LxdcpError("LXD host %s has no LXD endpoint: MAAS knows no address of it; give it in lxd_hosts "
                         "({name: %s, host: https://...:8443})" % (host["name"], host["name"]))
    if not settings["client_cert"] or not settings["client_key"]:
        raise LxdcpError("LXD host %s has no client certificate: set lxd_client_cert and lxd_client_key, or client_cert "
                         "and client_key in its lxd_hosts entry" % host["name"])
    # Imported here: planning over MAAS VM hosts (and the compose of a VM on one) never talks to LXD itself.
    from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.api import LxdClient

    return LxdClient(logger=logger, warn=warn, **settings)


def instance_limits(instance):
    """``(cores, MiB)`` an instance is allocated: its ``limits.cpu`` (a count or a CPU set) and ``limits.memory``."""
    config = instance.get("config") or {}
    return _cpu_count(config.get("limits.cpu")), _memory_mib(config.get("limits.memory"))


def _cpu_count(value):
    if value in (None, ""):
        return 0
    value = str(value).strip()
    if value.isdigit():
        return int(value)
    count = 0
    for part in value.split(","):
        low, _dash, high = part.partition("-")
        try:
            count += (int(high) - int(low) + 1) if high else 1
        except ValueError:
            return 0
    return count


def _memory_mib(value):
    if value in (None, "") or str(value).strip().endswith("%"):
        return 0
    match = _MEMORY_RE.match(str(value))
    if not match:
        return 0
    number, prefix, binary = float(match.group(1)), match.group(2).upper(), match.group(3)
    power = "KMGTPE".find(prefix) + 1 if prefix else 0
    return int(number * ((1024 if binary or not prefix else 1000) ** power) / MIB)


@dataclasses.dataclass
class HostState:
    """What one LXD server holds: ``total``/``used`` cores and MiB, ``storage`` (pool -> free bytes), ``instances``
    (name -> instance, of every project), and ``error`` (why it could not be read, or None)."""

    total_cores: int = 0
    total_memory: int = 0
    used_cores: int = 0
    used_memory: int = 0
    storage: dict = dataclasses.field(default_factory=dict)
    pools: list = dataclasses.field(default_factory=list)  # {name, type, total, used} (bytes) of each storage pool
    default_pool: object = None
    version: object = None
    architectures: list = dataclasses.field(default_factory=list)
    instances: dict = dataclasses.field(default_factory=dict)
    error: object = None


def read_host(client, bridge=None):
    """The state of one LXD server: 4 requests (5 with ``bridge``) + one per storage pool; ``error`` set (not raised)
    when LXD fails, or cannot take a VM: it does not trust the client or cannot run VMs, the client's project is
    missing, or ``bridge`` (the NIC's parent) is."""
    state = HostState()
    try:
        client.require_virtual_machines()
        client.require_extensions()
        client.require_project()
        if bridge:
            client.require_bridges([bridge])
        environment = client.server().get("environment") or {}
        state.version, state.architectures = environment.get("server_version"), list(environment.get("architectures") or [])
        capacity = client.capacity()
        state.total_cores, state.total_memory = capacity["cores"], capacity["memory"] // MIB
        for instance in client.list_instances(all_projects=True):
            state.instances[instance.get("name")] = instance
            cores, memory = instance_limits(instance)
            state.used_cores += cores
            state.used_memory += memory
        for pool in client.list_storage_pools():
            space = client.storage_pool_resources(pool["name"]).get("space") or {}
            total, used = int(space.get("total") or 0), int(space.get("used") or 0)
            state.pools.append(dict(name=pool["name"], type=pool.get("driver"), total=total, used=used))
            state.storage[pool["name"]] = max(0, total - used)
        state.default_pool = "default" if "default" in state.storage else None
    except LxdError as exc:
        state.error = exc
    return state


def host_health(host, state):
    """Health of an LXD host: MAAS's machine (Deployed, powered) and whether LXD answered as needed."""
    if host["machine"] is not None:
        health = machine_health(host["machine"].get("system_id"), host["machine"], "LXD host machine")
        if not health["healthy"]:
            return health
    else:
        health = dict(healthy=True, state="unknown", reason="not a MAAS machine (lxd_hosts entry)", system_id=None,
                      machine_status=None, power_state=None)
    if state.error is not None:
        text = str(state.error)
        reason = text if host["client"]["url"] in text else "LXD at %s: %s" % (host["client"]["url"], text)
        return dict(health, healthy=False, state="unhealthy", reason=reason)
    return health


# Why a task in lxd_via auto went direct; the prefix of its failures in direct mode.
AUTO_DIRECT = "MAAS has no VM hosts (it answers 410 Gone: MAAS 4.0), so the VMs are created on LXD directly; "


def no_lxd_host(tag=None, why=""):
    """The failure when there is no LXD host at all (``why``: :data:`AUTO_DIRECT` when lxd_via auto chose direct)."""
    tagged = "no MAAS machine carries the tag %s (lxd_host_tag)" % tag if tag else "no MAAS machine is tagged as one (lxd_host_tag)"
    return LxdcpError("%sno LXD host: %s and lxd_hosts (or the environment variable LXD_MULTI_HOSTS) lists none" % (why, tagged))


def lxd_candidates(maas, hosts, cluster=None, exclude=(), overrides=None, connect_host=connect, vet=None, failed=None, names=()):
    """The placement candidates of direct mode (see the module docstring), shaped as ``maas_view.Candidates``.

    ``hosts`` from :func:`lxd_hosts`; ``connect_host(host)`` gives its LxdClient. ``vet(hosts)`` runs before the
    LXD servers are read. ``failed`` maps host names to the LxdError their LXD answered earlier in the run: they are
    not asked again (their retries were spent), but unhealthy for that reason. The cluster's VMs on a server are its
    instances marked with ``cluster`` (but those named in ``exclude``); the cluster's other VMs in MAAS count in their
    zone (``existing_zones``). ``Candidates.hosted`` maps the cluster's VM hostnames to the LXD host that holds their
    instance. ``names``: as for ``maas_view.candidate_hosts``.
    """
    if vet is not None:
        vet(hosts)
    if not hosts:
        raise no_lxd_host()
    pairs, warnings, hosted = [], [], {}
    for host in hosts:
        known = (failed or {}).get(host["name"])
        state = HostState(error=known) if known is not None else read_host(connect_host(host), bridge=host["bridge"])
        health = host_health(host, state)
        if not health["healthy"]:
            warnings.append("LXD host %s: %s" % (host["name"], health["reason"]))
        replicas = 0
        for instance in state.instances.values():
            managed, owner = instance_ownership(instance)
            hostname = (instance.get("config") or {}).get(LXD_HOSTNAME_KEY)
            if managed and cluster and owner == cluster and hostname not in exclude:
                replicas += 1
                hosted[hostname] = host["name"]
        placement_host = Host(
            name=host["name"], total_cores=state.total_cores, used_cores=state.used_cores, total_memory=state.total_memory,
            used_memory=state.used_memory, zone=host["zone"], pool=host["pool"], tags=tuple(host["tags"]),
            cpu_over_commit=host["cpu_over_commit"], memory_over_commit=host["memory_over_commit"],
            storage=dict(state.storage) if state.error is None else None, default_storage_pool=state.default_pool,
            healthy=bool(health["healthy"]), health_reason=health.get("reason", ""), replicas=replicas, id=host["name"])
        if overrides:
            placement_host = dataclasses.replace(placement_host, **overrides)
        pairs.append((dict(host, state=state, health=health), placement_host))
    members = cluster_vms(maas, cluster, names, exclude)
    elsewhere = [m for name, m in members.items() if name not in hosted]
    outside = replica_counts(elsewhere, set())[1]
    return Candidates(pairs=pairs, not_lxd=[], members=members, existing_zones=outside, warnings=warnings, hosted=hosted,
                      via="direct")


def lxd_host_view(host, placement_host):
    """An LXD host as ``maas_vmhost_info`` returns it, in the shape of a MAAS VM host (``vmhosts.vm_host_view``): ``id``
    is null, ``host_system_id`` the MAAS machine's; ``placement_host`` is its ``Host`` from :func:`lxd_candidates`."""
    state = host["state"]
    local_total = sum(pool["total"] for pool in state.pools)
    local_used = sum(pool["used"] for pool in state.pools)
    pools = [dict(pool, id=None, path=None, default=pool["name"] == state.default_pool,
                  available=max(0, pool["total"] - pool["used"])) for pool in state.pools]
    return dict(
        id=None,
        name=host["name"],
        type="lxd",
        version=state.version,
        zone=host["zone"],
        pool=host["pool"],
        tags=list(host["tags"]),
        architectures=state.architectures,
        capabilities=[],
        host_system_id=(host["machine"] or {}).get("system_id"),
        url=host["client"]["url"],
        **capacity_view(placement_host, dict(cores=state.used_cores, memory=state.used_memory), local_total, local_used,
                        pools, host["health"])
    )


class Connections(object):
    """The LxdClient of each LXD host, made once per run (``connections(host)``); ``requests_sent`` over all of them."""

    def __init__(self, logger=None, warn=None):
        self.logger, self.warn = logger, warn
        self.clients = {}

    def __call__(self, host):
        if host["name"] not in self.clients:
            self.clients[host["name"]] = connect(host, logger=self.logger, warn=self.warn)
        return self.clients[host["name"]]

    @property
    def requests_sent(self):
        """HTTP requests sent to the LXD hosts so far."""
        return sum(client.requests_sent for client in self.clients.values())


def placement_candidates(maas, options, cluster=None, overrides=None, names=(), connections=None):
    """The placement candidates as ``options`` (the ``lxdcp.maas.lxd_hosts`` options, a mapping) choose them:
    ``lxd_via`` V(vm-host) - MAAS's VM hosts (``maas_view.candidate_hosts``); V(direct) - the LXD hosts; V(auto) - VM
    hosts unless MAAS answers 410 (MAAS 4.0). ``Candidates.via`` says which."""
    via, why = options.get("lxd_via") or "auto", ""
    if via != "direct":
        try:
            return candidate_hosts(maas, cluster, overrides=overrides, names=names)
        except MaasGone:
            if via == "vm-host":
                raise
            why = AUTO_DIRECT
    defaults = Defaults.from_options(options)
    hosts = lxd_hosts(maas, host_entries(options.get("lxd_hosts")), defaults)
    if not hosts:
        raise no_lxd_host(defaults.tag, why)
    return lxd_candidates(maas, hosts, cluster, overrides=overrides, names=names, connect_host=connections or Connections())
