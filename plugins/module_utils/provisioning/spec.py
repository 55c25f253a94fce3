# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The arguments of ``maas_lxd_vm``, validated before any request (``Spec``), and the values derived from them."""

from __future__ import annotations

import base64
import re

from ansible_collections.lxdcp.maas.plugins.module_utils import ipaddr
from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError
from ansible_collections.lxdcp.maas.plugins.module_utils.machines import DEFAULT_VM_PROVIDER_ID_SCHEME
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.states import ALLOCATED, DEPLOYED, READY
from ansible_collections.lxdcp.maas.plugins.module_utils.names import cluster_error, hostname_error, tag_error
from ansible_collections.lxdcp.maas.plugins.module_utils.ownership import CONTROL_PLANE, WORKER_TAG, owner_tags, role_tags
from ansible_collections.lxdcp.maas.plugins.module_utils.units import GIB, SizeError, parse_disk_bytes, parse_memory_mib

INTERFACE_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$")
MIN_VM_MEMORY = 1024
DEFAULT_CORES = 2
DEFAULT_MEMORY = 4096
DEFAULT_DISK = 20 * GIB


def ip_version(text):
    """4 or 6 for an address already checked by the validator."""
    return 6 if ":" in text else 4


class SpecError(LxdcpError):
    """The task's arguments are invalid; raised before any request."""


class Spec(object):
    """The validated arguments (no request needed to build it)."""

    def __init__(self, params):
        self.params = params
        self.hostname = params["hostname"]
        self.state = params["state"]
        self.mode = params["provisioning_mode"]
        self.lxd = self.mode == "lxd"
        self.cluster = params["cluster"]
        self.cores = params["cores"]
        self.memory = None
        self.disks = None
        self.interfaces = []
        self.zones = list(dict.fromkeys(params["zones"])) if params["zones"] else None
        self.pool = params["pool"]
        self.host_tags = tuple(params["host_tags"] or ())
        self.vm_host = params["vm_host"]
        self.project = params["project"]
        self.tags = list(params["tags"] or [])
        self.role = params.get("role")
        self.domain = params["domain"]
        self.strategy = params["strategy"]
        self.wait = params["wait"]
        self.deploy_wait = params["wait"] and params.get("deploy_wait", True)
        self.wait_timeout = params["wait_timeout"]
        self.recreate = params["recreate"]
        self.preferred_vm_host = params["preferred_vm_host"]
        self.max_hosts = params["max_hosts"]
        self.recover = params["recover"]
        self.removed_with = tuple(dict.fromkeys(params.get("removed_with") or ()))
        self.keep_cluster_tag = bool(params.get("keep_cluster_tag"))
        self.lxd_via = params.get("lxd_via") or "auto"
        self.vm_provider_id_scheme = params.get("vm_provider_id_scheme") or DEFAULT_VM_PROVIDER_ID_SCHEME
        self._validate()

    def _validate(self):
        params = self.params
        problem = hostname_error(self.hostname, domain_hint="use domain for the DNS domain")
        if problem:
            raise SpecError(problem)
        if self.cores is not None and self.cores < 1:
            raise SpecError("cores must be at least 1, got %d" % self.cores)
        if params["memory"] is not None:
            try:
                self.memory = parse_memory_mib(params["memory"], minimum=MIN_VM_MEMORY if self.lxd else 0)
            except SizeError as exc:
                suffix = " (MAAS composes VMs with at least 1024 MiB)" if "minimum" in str(exc) else ""
                raise SpecError(str(exc) + suffix)
        if params["disks"] is not None:
            self.disks = self._disks(params["disks"])
        problems = [cluster_error(self.cluster)] if self.cluster is not None else []
        problems += [tag_error(tag) for tag in self.tags + list(self.host_tags)]
        problems += ["removed_with: " + text for text in map(hostname_error, self.removed_with) if text]
        problem = next((text for text in problems if text), None)
        if problem:
            raise SpecError(problem)
        if self.role == CONTROL_PLANE and WORKER_TAG in self.tags:
            raise SpecError("tags holds %s, the mark of a worker, but role is %s" % (WORKER_TAG, CONTROL_PLANE))
        if params["wait_timeout"] < 1:
            raise SpecError("wait_timeout must be at least 1 second, got %d" % params["wait_timeout"])
        if self.zones is not None and not all(self.zones):
            raise SpecError("zone must not contain empty names")
        self.interfaces = self._interfaces(params["interfaces"] or [])
        self._conflicts()

    def _disks(self, disks):
        if not disks:
            raise SpecError("disks must list at least the root disk, or be left out")
        parsed = []
        for index, disk in enumerate(disks):
            what = "disks[%d].size" % index
            try:
                size = parse_disk_bytes(disk["size"], what)
            except SizeError as exc:
                raise SpecError(str(exc))
            if size < GIB:
                raise SpecError("%s %r is below 1 GiB; MAAS VMs need at least a few GiB for the OS" % (what, disk["size"]))
            parsed.append(dict(size=size, pool=disk.get("pool")))
        return parsed

    def _interfaces(self, interfaces):
        if interfaces and not ipaddr.HAS_NETADDR:
            raise SpecError("interfaces need the Python library netaddr: %s" % ipaddr.NETADDR_IMPORT_ERROR)
        parsed = []
        for index, item in enumerate(interfaces):
            name = item.get("name") or "eth%d" % index
            if not INTERFACE_RE.match(name):
                raise SpecError("interfaces[%d].name %r is not a valid interface name (at most 15 characters)" % (index, name))
            if not item.get("ip") and not item.get("subnet"):
                raise SpecError("interfaces[%d] needs a subnet (CIDR) or an ip" % index)
            subnet = None
            if item.get("subnet"):
                try:
                    subnet = str(ipaddr.parse_network(item["subnet"], "interfaces[%d].subnet" % index).cidr)
                except ipaddr.AddressError as exc:
                    raise SpecError(exc.message)
            gateway, dns_servers = item.get("gateway") or None, list(item.get("dns_servers") or [])
            if (gateway or dns_servers) and not item.get("ip"):
                raise SpecError("interfaces[%d].%s needs interfaces[%d].ip: MAAS configures a gateway and DNS servers on "
                                "the VM's static address" % (index, "gateway" if gateway else "dns_servers", index))
            parsed.append(dict(name=name, subnet=subnet, ip=item.get("ip") or None, gateway=gateway, dns_servers=dns_servers))
        names = [i["name"] for i in parsed]
        repeated = sorted(set(n for n in names if names.count(n) > 1))
        if repeated:
            raise SpecError("interface names must be unique; repeated: %s" % ", ".join(repeated))
        request = ipaddr.check_request(self.address_entries(parsed), ipaddr.RESERVE, what="interfaces")
        if request.problems:
            raise SpecError(ipaddr.summarize(request.problems, "interface address"))
        for item, planned in zip([i for i in parsed if i["ip"]], request.planned):
            item["ip"] = str(planned.ip)
            if planned.gateway is not None:
                item["gateway"] = str(planned.gateway)
        families = [ip_version(i["gateway"]) for i in parsed if i["gateway"]]
        repeated = sorted(set(v for v in families if families.count(v) > 1))
        if repeated:
            raise SpecError("a machine has one default gateway per IP version: give gateway on one interface only "
                            "(IPv%s on %s)" % (repeated[0], ", ".join(i["name"] for i in parsed if i["gateway"])))
        return parsed

    def address_entries(self, interfaces=None, system_id=None):
        """The static addresses as entries of the shared IP validator (plugins/module_utils/ipaddr.py)."""
        entries = []
        for item in self.interfaces if interfaces is None else interfaces:
            if item["ip"]:
                entry = dict(address=item["ip"], hostname=self.hostname, system_id=system_id)
                if item["subnet"]:
                    entry["subnet"] = item["subnet"]
                if item.get("gateway"):
                    entry["gateway"] = item["gateway"]
                if item.get("dns_servers"):
                    entry["dns_servers"] = item["dns_servers"]
                entries.append(entry)
        return entries

    def _conflicts(self):
        params = self.params
        if not self.lxd:
            lxd_only = [name for name in ("vm_host", "preferred_vm_host", "project") if params[name]]
            if any(d.get("pool") for d in self.disks or []):
                lxd_only.append("disks[].pool")
            if self.interfaces:
                lxd_only.append("interfaces")
            if params["recreate"]:
                lxd_only.append("recreate")
            if params["recover"] == "recreate":
                lxd_only.append("recover: recreate")
            if lxd_only:
                raise SpecError("%s only apply to provisioning_mode: lxd (a bare-metal machine is allocated as it is)"
                                % ", ".join(lxd_only))
        elif params["delete_bare_metal"]:
            raise SpecError("delete_bare_metal only applies to provisioning_mode: bare-metal")
        if params["vm_host"] and params["preferred_vm_host"]:
            raise SpecError("vm_host and preferred_vm_host are mutually exclusive: vm_host pins the VM to one host, "
                            "preferred_vm_host is tried first and failed over from")
        if params["max_hosts"] < 1:
            raise SpecError("max_hosts must be at least 1, got %d" % params["max_hosts"])
        if params["osystem"] and not params["distro_series"]:
            raise SpecError("osystem needs distro_series (MAAS deploys '<osystem>/<distro_series>')")
        for name in ("removed_with", "keep_cluster_tag"):
            if params.get(name) and (self.state != "absent" or not self.cluster):
                raise SpecError("%s is about the cluster's tag when its machines are removed: it needs state: absent and "
                                "cluster" % name)

    # -- derived values --------------------------------------------------------------------

    @property
    def owner_tags(self):
        """The ownership tags this task requires and sets."""
        return owner_tags(self.cluster)

    @property
    def wanted_tags(self):
        """Ownership tags plus the user's tags, without repeats, in the order they are added.

        The cluster tag goes first and lxdcp-managed after it (``state: absent`` removes them the other
        way round), so a machine carrying this cluster's tag alone is one whose tagging or untagging by
        this task was interrupted: see ``ownership.half_tagged``.
        """
        return list(dict.fromkeys(self.owner_tags[::-1] + self.tags + role_tags(self.role)))

    @property
    def unwanted_tags(self):
        """Tags the machine must not carry: the worker mark on a machine whose ``role`` is the control plane."""
        return [WORKER_TAG] if self.role == CONTROL_PLANE else []

    def compose_disks(self):
        """Disks to compose: the given ones or the default root disk."""
        return self.disks or [dict(size=DEFAULT_DISK, pool=None)]

    def summary(self):
        """``4 cores, 8192 MiB, 40 GiB`` of what would be composed."""
        disks = " + ".join("%g GiB" % round(d["size"] / float(GIB), 2) for d in self.compose_disks())
        return "%d cores, %d MiB, %s" % (self.cores or DEFAULT_CORES, self.memory or DEFAULT_MEMORY, disks)

    def deploy_data(self):
        """The ``op=deploy`` form."""
        params = self.params
        data = {}
        if params["distro_series"]:
            series = params["distro_series"]
            data["distro_series"] = "%s/%s" % (params["osystem"], series) if params["osystem"] else series
        if params["hwe_kernel"]:
            data["hwe_kernel"] = params["hwe_kernel"]
        if params["user_data"]:
            data["user_data"] = base64.b64encode(params["user_data"].encode("utf-8")).decode("ascii")
        return data

    def final_state(self):
        """Status name the task leads to."""
        if self.state == "deployed":
            return DEPLOYED
        if self.state == "present" and not self.lxd:
            return ALLOCATED
        return READY

    @property
    def deploy_action(self):
        """The action of deploying the machine: ``deploy cp-1 jammy`` (without a distro_series: ``deploy cp-1``)."""
        series = self.params["distro_series"]
        return "deploy %s%s" % (self.hostname, " " + series if series else "")
