# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure parts of the ``lxdcp.maas.maas`` inventory: the config checks, the one MAAS query, hosts and groups.

No requests and no Ansible here: the plugin (``plugins/inventory/maas.py``) reads the options, sends the query with the
collection's client and hands the machines to :func:`inventory_hosts`.
"""

from __future__ import annotations

import difflib
import os
import re

from ansible_collections.lxdcp.maas.plugins.module_utils.ipaddr import AddressError, parse_network
from ansible_collections.lxdcp.maas.plugins.module_utils.machines import DEFAULT_VM_PROVIDER_ID_SCHEME, machine_view, preferred_address
from ansible_collections.lxdcp.maas.plugins.module_utils.names import cluster_error, tag_error
from ansible_collections.lxdcp.maas.plugins.module_utils.ownership import (
    CONTROL_PLANE,
    MANAGED_TAG,
    WORKER,
    cluster_tag,
    clusters_of,
    is_owned,
    machine_role,
    ownership,
)

#: Config file names the plugin accepts: ``maas.yml`` or ``<anything>.maas.yml`` (and ``.yaml``).
CONFIG_SUFFIX = ("maas.yml", "maas.yaml")

#: The inventory group of each role: the groups ``playbooks/control_plane.yml`` runs on.
ROLE_GROUPS = {CONTROL_PLANE: "control_plane", WORKER: "workers"}
CLUSTER_GROUP_PREFIX = "cluster_"
ZONE_GROUP_PREFIX = "zone_"

#: The fields of a MAAS machine object the inventory uses: only these are kept in the inventory cache.
MACHINE_FIELDS = (
    "system_id", "hostname", "fqdn", "status_name", "status_message", "zone", "pool", "domain", "pod", "power_type",
    "cpu_count", "memory", "interface_set", "ip_addresses", "tag_names", "osystem", "distro_series", "hwe_kernel",
    "power_state", "owner", "default_gateways",
)

_GROUP_CHARS = re.compile(r"[^A-Za-z0-9_]")


class ConfigError(ValueError):
    """A bad inventory config: its message says which option and what is wrong."""


def is_config_name(path):
    """Whether ``path`` is named like a config of this plugin: ``maas.yml``, ``lab.maas.yml`` (or ``.yaml``)."""
    name = os.path.basename(path)
    return any(name == suffix or name.endswith("." + suffix) for suffix in CONFIG_SUFFIX)


def unknown_options(config, known):
    """The message for keys of ``config`` that are not options of the plugin (with the closest option), or None."""
    unknown = sorted(str(key) for key in config if key not in known)
    if not unknown:
        return None
    parts = []
    for key in unknown:
        close = difflib.get_close_matches(key, sorted(known), n=1)
        parts.append("%r%s" % (key, " (did you mean %r?)" % close[0] if close else ""))
    return "unknown option%s %s; the options are %s" % (
        "s" if len(unknown) > 1 else "", ", ".join(parts), ", ".join(sorted(known)))


class Query(object):
    """The one ``GET /machines/`` of a refresh: the tags MAAS filters on (all must match) and the other filters.

    One cluster: its ownership tags (``lxdcp-cluster-<cluster>`` and ``lxdcp-managed``). Several or every cluster:
    ``lxdcp-managed``, and the clusters are picked from the machines' tags (MAAS ANDs the tags of one request).
    """

    def __init__(self, clusters=None, zones=None, pool=None, tags=None, status=None, preferred_subnets=None,
                 vm_provider_id_scheme=DEFAULT_VM_PROVIDER_ID_SCHEME):
        self.clusters = list(dict.fromkeys(clusters or []))
        self.vm_provider_id_scheme = vm_provider_id_scheme  # how maas_provider_id is written (not part of the read)
        problems = [cluster_error(cluster) for cluster in self.clusters]
        problems += [tag_error(tag) for tag in tags or []]
        problems = [text for text in problems if text]
        if problems:
            raise ConfigError("; ".join(problems))
        self.subnets = []
        for cidr in preferred_subnets or []:
            try:
                self.subnets.append(str(parse_network(cidr, "preferred_subnets entry").cidr))
            except AddressError as exc:
                raise ConfigError(str(exc))
        self.tags = [MANAGED_TAG] + list(tags or [])
        if len(self.clusters) == 1:
            self.tags.insert(0, cluster_tag(self.clusters[0]))
        self.tags = list(dict.fromkeys(self.tags))
        self.filters = dict((key, list(value)) for key, value in (("zone", zones), ("pool", pool), ("status", status)) if value)

    def key(self):
        """What the cached answer was read with (JSON-safe): a cache of another query is not used."""
        return dict(tags=self.tags, filters=self.filters)

    def selects(self, machine):
        """Whether the machine is one of the inventory's: owned by one of the clusters, or by any cluster without them."""
        if self.clusters:
            return any(is_owned(machine, cluster) for cluster in self.clusters)
        return is_owned(machine) and bool(clusters_of(machine))


# The fields of the machine view that become host variables, each as maas_<field> (maas_vm_host: the VM host's name).
VIEW_VARIABLES = ("system_id", "hostname", "fqdn", "provider_id", "zone", "pool", "domain", "lxd_vm", "status",
                  "power_state", "cores", "memory", "tags", "ip_addresses", "osystem", "distro_series")


def trim(machine):
    """The machine with the fields the inventory uses only (what the cache holds)."""
    return dict((key, machine[key]) for key in MACHINE_FIELDS if key in machine)


def group_name(prefix, name):
    """``prefix`` + ``name`` with every character Ansible does not allow in a group name turned into ``_``."""
    return _GROUP_CHARS.sub("_", prefix + name)


class Host(object):
    """One inventory host: ``name``, ``groups`` (cluster, role, zone) and ``variables``."""

    def __init__(self, name, groups, variables):
        self.name = name
        self.groups = groups
        self.variables = variables

    def __repr__(self):
        return "Host(%r, %r)" % (self.name, self.groups)


def host_of(machine, query):
    """The inventory host of a machine: its groups and host variables."""
    view = machine_view(machine, vm_provider_id_scheme=query.vm_provider_id_scheme)
    role = machine_role(machine)
    clusters = sorted(cluster for cluster in clusters_of(machine) if not query.clusters or cluster in query.clusters)
    groups = [group_name(CLUSTER_GROUP_PREFIX, cluster) for cluster in clusters]
    groups.append(ROLE_GROUPS[role])
    if view["zone"]:
        groups.append(group_name(ZONE_GROUP_PREFIX, view["zone"]))
    variables = dict(lxdcp_cluster=clusters[0] if clusters else ownership(machine)[1], lxdcp_role=role,
                     maas_vm_host=(view["vm_host"] or {}).get("name"))
    variables.update(("maas_" + field, view[field]) for field in VIEW_VARIABLES)
    address = preferred_address(machine, query.subnets)
    if address:
        variables["ansible_host"] = address
    return Host(view["hostname"], groups, variables)


def inventory_hosts(machines, query):
    """The hosts of the machines the query selects, sorted by name."""
    hosts = [host_of(machine, query) for machine in machines if query.selects(machine) and machine.get("hostname")]
    return sorted(hosts, key=lambda host: host.name)
