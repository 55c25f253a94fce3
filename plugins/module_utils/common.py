# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every lxdcp.maas module shares: the auth options, the client built from them, and results.

A module does::

    module = MaasModule(argument_spec=dict(name=dict(type="str")), supports_check_mode=True)
    try:
        client = module.client()
        ...
    except MaasError as exc:
        module.fail_from(exc)
    module.exit_json(changed=False, thing=thing)

``MaasModule`` wraps ``AnsibleModule``: the auth options of the ``lxdcp.maas.auth`` doc fragment
are merged into the argument spec, missing Python libraries and bad settings fail with a clear
message before any request, and with ``-vvv`` every result carries ``maas_log``, the requests
(with attempt numbers, retry delays) and decisions of the run. No secret is ever logged.
"""

from __future__ import annotations

import copy
import re
import time

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.lxdcp.maas.plugins.module_utils.client import (
    DEPLOYED,
    HAS_REQUESTS,
    HAS_REQUESTS_OAUTHLIB,
    REQUESTS_IMPORT_ERROR,
    REQUESTS_OAUTHLIB_IMPORT_ERROR,
    MaasClient,
    MaasError,
    parse_api_key,
)
from ansible_collections.lxdcp.maas.plugins.module_utils.placement.core import Host, free_cores, free_memory
from ansible_collections.lxdcp.maas.plugins.module_utils.units import to_gb

AUTH_ARGUMENT_SPEC = dict(
    url=dict(type="str", required=True, fallback=(env_fallback, ["MAAS_URL"])),
    api_key=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["MAAS_API_KEY"])),
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
    timeout=dict(type="int", default=30),
    retries=dict(type="int", default=5),
)

# Ownership tags (docs/design.md, "Modules"): machines created by lxdcp.maas carry MANAGED_TAG,
# and CLUSTER_TAG_PREFIX + <cluster> when a cluster name is given.
MANAGED_TAG = "lxdcp-managed"
CLUSTER_TAG_PREFIX = "lxdcp-cluster-"

LOG_VERBOSITY = 3


def maas_argument_spec(**options):
    """The auth options plus the module's own ``options``."""
    spec = copy.deepcopy(AUTH_ARGUMENT_SPEC)
    spec.update(options)
    return spec


# What MAAS accepts as a tag name (``forms/tag.py``); a cluster name becomes the tag lxdcp-cluster-<cluster>.
TAG_RE = re.compile(r"^[a-zA-Z0-9_-]+$")


def cluster_tag(cluster):
    """The ownership tag of ``cluster``."""
    return CLUSTER_TAG_PREFIX + cluster


def cluster_members(client, cluster, tags=(), **filters):
    """The machines of ``cluster`` (those carrying its ownership tag and all of ``tags``), with one filtered request.

    ``filters`` are further ``GET /machines/`` filters (``hostname``, ``zone``, ``pool``, ``status``...).
    """
    return client.list_machines_tagged([cluster_tag(cluster)] + list(tags), **filters)


def replica_counts(members, vm_host_ids, vms=True):
    """How many of ``members`` (machines of one cluster) count as replicas, per VM host and per zone.

    Returns ``(per_vm_host, per_zone)``. With ``vms`` only composed VMs count, so that bare-metal
    workers of a mixed cluster do not shape the spread of its control plane: a VM on a VM host in
    ``vm_host_ids`` counts on that host, any other VM in its zone (``Request.existing_zones``).
    Without ``vms`` only bare-metal machines count, per zone.
    """
    per_host, per_zone = {}, {}
    for member in members:
        pod = (member.get("pod") or {}).get("id")
        if vms != (pod is not None):
            continue
        if pod is not None and pod in vm_host_ids:
            per_host[pod] = per_host.get(pod, 0) + 1
        else:
            zone = (member.get("zone") or {}).get("name") or "default"
            per_zone[zone] = per_zone.get(zone, 0) + 1
    return per_host, per_zone


class MaasLog(object):
    """Collects troubleshooting lines, each prefixed with the seconds since the module started."""

    def __init__(self, clock=None):
        self._clock = clock or time.monotonic
        self._start = self._clock()
        self.lines = []

    def __call__(self, message):
        self.lines.append("+%.3fs %s" % (self._clock() - self._start, message))


class MaasModule(object):
    """``AnsibleModule`` with the MAAS auth options, a lazily built client and ``maas_log`` in results."""

    # Unit tests replace this to put a fake transport under the client.
    client_class = MaasClient

    def __init__(self, argument_spec=None, **kwargs):
        self.module = AnsibleModule(argument_spec=maas_argument_spec(**(argument_spec or {})), **kwargs)
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self.log = MaasLog()
        self._client = None

    @property
    def verbose(self):
        """Whether the play runs with -vvv or more (then results carry ``maas_log``)."""
        return getattr(self.module, "_verbosity", 0) >= LOG_VERBOSITY

    @property
    def diff_mode(self):
        """Whether the play runs with --diff."""
        return bool(getattr(self.module, "_diff", False))

    def client(self, **overrides):
        """The client for this run, built once from the auth options; fails the module on bad settings."""
        if self._client is not None:
            return self._client
        if not HAS_REQUESTS:
            self.module.fail_json(msg=missing_required_lib("requests"), exception=str(REQUESTS_IMPORT_ERROR))
        if not HAS_REQUESTS_OAUTHLIB:
            self.module.fail_json(msg=missing_required_lib("requests-oauthlib"), exception=str(REQUESTS_OAUTHLIB_IMPORT_ERROR))
        params = self.params
        try:
            # The token secret alone would escape Ansible's masking of the whole api_key value.
            secret = parse_api_key(params["api_key"])[2]
            self.module.no_log_values.add(secret)
            settings = dict(
                url=params["url"],
                api_key=params["api_key"],
                validate_certs=params["validate_certs"],
                ca_path=params.get("ca_path"),
                timeout=params["timeout"],
                retries=params["retries"],
                logger=self.log,
            )
            settings.update(overrides)
            if params["url"].lower().startswith("https") and not params["validate_certs"]:
                self.warn("validate_certs is false: the TLS certificate of MAAS is not checked")
            self._client = self.client_class(**settings)
        except MaasError as exc:
            self.fail_from(exc)
        return self._client

    def warn(self, message):
        """An Ansible warning, also logged."""
        self.log("warning: %s" % message)
        self.module.warn(message)

    def _with_log(self, result):
        if self.verbose:
            result["maas_log"] = list(self.log.lines)
        return result

    def exit_json(self, **result):
        """Finish successfully (adds ``maas_log`` with -vvv)."""
        self.module.exit_json(**self._with_log(result))

    def fail_json(self, msg, **result):
        """Fail with ``msg`` (adds ``maas_log`` with -vvv)."""
        self.module.fail_json(msg=msg, **self._with_log(result))

    def fail_from(self, error, **result):
        """Fail with a MaasError: its message, and ``error`` (status, request) for programs."""
        if isinstance(error, MaasError):
            result.setdefault("error", error.to_dict())
        self.fail_json(str(error), **result)


# --------------------------------------------------------------------------------------------
# VM hosts: health, capacity and the placement core's view of them (maas_vmhost_info, maas_lxd_vm)

# Power states of a backing machine that make its VM host unusable.
_BAD_POWER_STATES = ("off", "error")


def check_places(client, zones=None, pool=None):
    """``(error, pool_id)``: the error text for zone or resource pool names MAAS does not know (None when they all
    exist; a typo would otherwise match nothing), and the id of ``pool``."""
    if zones:
        known = sorted(z["name"] for z in client.list_zones())
        unknown = [z for z in zones if z not in known]
        if unknown:
            return "unknown zone(s): %s (MAAS has: %s)" % (", ".join(unknown), ", ".join(known)), None
    pool_id = None
    if pool:
        pools = dict((p["name"], p["id"]) for p in client.list_resource_pools())
        if pool not in pools:
            return "unknown resource pool %r (MAAS has: %s)" % (pool, ", ".join(sorted(pools))), None
        pool_id = pools[pool]
    return None, pool_id


def backing_machines(client, vm_hosts):
    """``{system_id: machine}`` of the machines the VM hosts run on, in one filtered request."""
    ids = sorted({h.get("host", {}).get("system_id") for h in vm_hosts} - {None})
    return {m["system_id"]: m for m in client.get_machines(ids)} if ids else {}


def vm_host_health(vm_host, machine):
    """Health of a VM host from its backing machine (``host.system_id``).

    A host not backed by a MAAS machine (added by address) or whose machine this user cannot
    see is reported healthy with ``state: unknown``: MAAS offers nothing else to judge it by.
    """
    system_id = (vm_host.get("host") or {}).get("system_id")
    if system_id is None:
        return dict(healthy=True, state="unknown", reason="not backed by a MAAS machine (added by address)",
                    system_id=None, machine_status=None, power_state=None)
    if machine is None:
        return dict(healthy=True, state="unknown", reason="backing machine %s is not visible to this user" % system_id,
                    system_id=system_id, machine_status=None, power_state=None)
    status = machine.get("status_name")
    power = machine.get("power_state")
    health = dict(system_id=system_id, machine_status=status, power_state=power)
    if status != DEPLOYED:
        detail = machine.get("error_description") or machine.get("status_message") or ""
        reason = "backing machine %s is %s" % (machine.get("hostname", system_id), status)
        health.update(healthy=False, state="unhealthy", reason=reason + (": %s" % detail if detail else ""))
    elif power in _BAD_POWER_STATES:
        health.update(healthy=False, state="unhealthy",
                      reason="backing machine %s is powered %s" % (machine.get("hostname", system_id), power))
    else:
        health.update(healthy=True, state="healthy", reason="backing machine %s is Deployed" % machine.get("hostname"))
    return health


def placement_host(vm_host, health=None, replicas=0):
    """The placement core's ``Host`` for a MAAS VM host (MiB and bytes as MAAS reports them)."""
    total = vm_host.get("total") or {}
    used = vm_host.get("used") or {}
    pools = vm_host.get("storage_pools")
    storage = None
    default_pool = None
    if pools:
        storage = dict((p["name"], max(0, int(p.get("available") or 0))) for p in pools)
        default_pool = next((p["name"] for p in pools if p.get("default")), None)
    health = health or {"healthy": True, "reason": ""}
    return Host(
        name=vm_host["name"],
        total_cores=int(total.get("cores") or 0),
        used_cores=max(0, used.get("cores") or 0),
        total_memory=int(total.get("memory") or 0),
        used_memory=max(0, used.get("memory") or 0),
        zone=(vm_host.get("zone") or {}).get("name", "default"),
        pool=(vm_host.get("pool") or {}).get("name", "default"),
        tags=tuple(vm_host.get("tags") or ()),
        cpu_over_commit=float(vm_host.get("cpu_over_commit_ratio") or 1.0),
        memory_over_commit=float(vm_host.get("memory_over_commit_ratio") or 1.0),
        storage=storage,
        default_storage_pool=default_pool,
        healthy=bool(health["healthy"]),
        health_reason=health.get("reason", ""),
        replicas=replicas,
        id=vm_host.get("id"),
    )


def vm_host_project(client, vm_host):
    """The LXD project of a VM host, from ``op=parameters`` (admin only; MaasAuthError otherwise).

    Only the project is taken: the parameters also hold the LXD password, key and certificate.
    None for a host without a project (virsh).
    """
    parameters = client.vm_host_parameters(vm_host["id"])
    return parameters.get("project") if isinstance(parameters, dict) else None


def vm_host_view(vm_host, health, project=None, include_project=False):
    """A VM host as modules return it: identity, placement attributes, capacity and health.

    ``free`` applies over-commit (``total * ratio - used``, the placement core's ``free_cores``
    and ``free_memory``); storage is reported per pool in bytes and decimal GB.
    """
    host = placement_host(vm_host, health)
    total = vm_host.get("total") or {}
    used = vm_host.get("used") or {}
    pools = []
    for pool in vm_host.get("storage_pools") or []:
        pools.append(dict(
            name=pool.get("name"), id=pool.get("id"), type=pool.get("type"), path=pool.get("path"),
            default=bool(pool.get("default")),
            total=pool.get("total"), used=pool.get("used"), available=pool.get("available"),
            total_gb=to_gb(pool.get("total") or 0), used_gb=to_gb(pool.get("used") or 0),
            available_gb=to_gb(pool.get("available") or 0),
        ))
    local_total = total.get("local_storage") or 0
    local_used = used.get("local_storage") or 0
    view = dict(
        id=vm_host.get("id"),
        name=vm_host.get("name"),
        type=vm_host.get("type"),
        version=vm_host.get("version"),
        zone=host.zone,
        pool=host.pool,
        tags=list(host.tags),
        architectures=vm_host.get("architectures") or [],
        capabilities=vm_host.get("capabilities") or [],
        host_system_id=(vm_host.get("host") or {}).get("system_id"),
        cpu_over_commit_ratio=host.cpu_over_commit,
        memory_over_commit_ratio=host.memory_over_commit,
        total=dict(cores=host.total_cores, memory=host.total_memory, local_storage=local_total),
        used=dict(cores=used.get("cores") or 0, memory=used.get("memory") or 0, local_storage=local_used),
        free=dict(
            cores=_whole(free_cores(host)),
            memory=_whole(free_memory(host)),
            local_storage=local_total - local_used,
            local_storage_gb=to_gb(local_total - local_used),
        ),
        storage_pools=pools,
        default_storage_pool=host.default_storage_pool,
        health=health,
    )
    if include_project:
        view["project"] = project
    return view


def _whole(value):
    """Capacities print as integers when they are whole (over-commit ratios can make fractions)."""
    return int(value) if float(value).is_integer() else round(value, 2)


# --------------------------------------------------------------------------------------------
# Machines as modules return them (maas_lxd_vm, maas_machine_info)


def machine_disks(machine):
    """Physical disks of a machine, root disk first: ``[{name, size}]``."""
    disks = machine.get("physicalblockdevice_set") or machine.get("blockdevice_set") or []
    boot = (machine.get("boot_disk") or {}).get("id")
    ordered = sorted(disks, key=lambda d: (d.get("id") != boot, d.get("id") or 0))
    return [dict(name=d.get("name"), size=int(d.get("size") or 0)) for d in ordered]


def interface_links(interface):
    """Links of an interface as ``{mode, ip_address, subnet, subnet_id, gateway}``."""
    links = []
    for link in interface.get("links") or []:
        subnet = link.get("subnet") or {}
        links.append(dict(
            id=link.get("id"),
            mode=link.get("mode"),
            ip_address=link.get("ip_address"),
            subnet=subnet.get("cidr"),
            subnet_id=subnet.get("id"),
            gateway=subnet.get("gateway_ip"),
            dns_servers=list(subnet.get("dns_servers") or []),
        ))
    return links


def is_vm(machine):
    """Whether the machine is a VM composed on a MAAS VM host."""
    return bool(machine.get("pod"))


def provider_id(machine):
    """``maas-lxd://<zone>/<system_id>`` for VMs, ``maas://<zone>/<system_id>`` for bare metal."""
    scheme = "maas-lxd" if is_vm(machine) else "maas"
    return "%s://%s/%s" % (scheme, (machine.get("zone") or {}).get("name", "default"), machine["system_id"])


def machine_view(machine):
    """The machine as the modules return it (None stays None)."""
    if machine is None:
        return None
    interfaces = []
    dns = []
    for interface in machine.get("interface_set") or []:
        links = interface_links(interface)
        for link in links:
            dns.extend(s for s in link.pop("dns_servers") if s not in dns)
            link.pop("subnet_id")
        interfaces.append(dict(name=interface.get("name"), mac_address=interface.get("mac_address"),
                               type=interface.get("type"), links=links))
    pod = machine.get("pod")
    gateway = ((machine.get("default_gateways") or {}).get("ipv4") or {}).get("gateway_ip")
    if gateway is None:
        gateway = next((link["gateway"] for i in interfaces for link in i["links"] if link["gateway"]), None)
    return dict(
        system_id=machine.get("system_id"),
        hostname=machine.get("hostname"),
        fqdn=machine.get("fqdn"),
        status=machine.get("status_name"),
        status_message=machine.get("status_message"),
        zone=(machine.get("zone") or {}).get("name"),
        pool=(machine.get("pool") or {}).get("name"),
        domain=(machine.get("domain") or {}).get("name"),
        vm_host=dict(id=pod.get("id"), name=pod.get("name")) if pod else None,
        cores=machine.get("cpu_count"),
        memory=machine.get("memory"),
        disks=[dict(d, size_gb=to_gb(d["size"])) for d in machine_disks(machine)],
        interfaces=interfaces,
        ip_addresses=list(machine.get("ip_addresses") or []),
        gateway=gateway,
        dns_servers=dns,
        tags=list(machine.get("tag_names") or []),
        osystem=machine.get("osystem"),
        distro_series=machine.get("distro_series"),
        hwe_kernel=machine.get("hwe_kernel"),
        power_state=machine.get("power_state"),
        owner=machine.get("owner"),
        provider_id=provider_id(machine),
    )
