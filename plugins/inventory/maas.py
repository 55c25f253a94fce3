# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``lxdcp.maas.maas`` inventory: the machines of lxdcp.maas clusters, read from MAAS with one filtered request."""

from __future__ import annotations

DOCUMENTATION = r"""
name: maas
author: lxdcp.maas contributors (@lxdcp)
short_description: Inventory of the machines of lxdcp.maas clusters in MAAS
version_added: 1.0.0
description:
  - The machines that carry the lxdcp.maas ownership tags (C(lxdcp-managed) and C(lxdcp-cluster-<cluster>)), as
    M(lxdcp.maas.maas_lxd_vm) and C(playbooks/control_plane.yml) leave them, read with one filtered
    C(GET /machines/) per refresh. MAAS applies every filter (O(clusters) with one cluster, O(zones), O(pool),
    O(tags), O(status)); nothing else is read.
  - "Groups: C(cluster_<cluster>) per cluster, C(control_plane) and C(workers) per role (the groups the main job runs on:
    a machine tagged C(lxdcp-worker) is a worker, any other machine of a cluster is in its control plane), and
    C(zone_<zone>) per availability zone. Characters other than letters, digits and C(_) become C(_) in group names."
  - C(ansible_host) is the machine's address on the first of O(preferred_subnets) it has one on, else its static
    (sticky) IP, else its first address - the address the C(lxdcp.maas.deploy) role puts in the API endpoint.
  - "Host variables: C(lxdcp_cluster), C(lxdcp_role) (V(control-plane) or V(worker)), C(maas_system_id), C(maas_hostname),
    C(maas_fqdn), C(maas_provider_id) (the provider ID the collection gives Kubernetes nodes), C(maas_zone), C(maas_pool),
    C(maas_domain), C(maas_vm_host) (the VM host of a composed VM, else null), C(maas_lxd_vm), C(maas_status),
    C(maas_power_state), C(maas_cores), C(maas_memory) (MiB), C(maas_tags), C(maas_ip_addresses), C(maas_osystem),
    C(maas_distro_series)."
  - The config file must be named C(maas.yml), C(maas.yaml) or end in C(.maas.yml) or C(.maas.yaml).
  - A bad config (an unknown option, a bad value) and a MAAS that cannot be read (unreachable, a rejected key, an unknown
    zone or pool) fail the inventory source with the reason; they never give an empty inventory.
extends_documentation_fragment:
  - lxdcp.maas.auth
  - lxdcp.maas.auth.plugin
  - lxdcp.maas.provider_ids
  - constructed
  - inventory_cache
options:
  plugin:
    description: The name of this plugin; it marks the file as a config of it.
    type: str
    required: true
    choices: [lxdcp.maas.maas]
  clusters:
    description:
      - Only the machines of these clusters. Without it, the machines of every lxdcp.maas cluster.
      - With one cluster MAAS filters on its tag; with several, on C(lxdcp-managed), and the clusters are picked from
        the machines' tags.
    type: list
    elements: str
    default: []
  zones:
    description: Only machines in these availability zones (MAAS's C(zone) filter). A zone MAAS does not have is an error.
    type: list
    elements: str
    default: []
  pool:
    description: Only machines in these resource pools (MAAS's C(pool) filter). A pool MAAS does not have is an error.
    type: list
    elements: str
    default: []
  tags:
    description: Only machines carrying all of these MAAS tags. A tag MAAS does not have matches no machine.
    type: list
    elements: str
    default: []
  status:
    description:
      - Only machines in these states, as MAAS's C(status) filter names them (V(deployed), V(ready), ...).
      - MAAS before 3.3 accepts one status only.
    type: list
    elements: str
    default: []
    choices: [new, commissioning, failed_commissioning, missing, ready, reserved, deployed, retired, broken, deploying,
              allocated, failed_deployment, releasing, failed_releasing, disk_erasing, failed_disk_erasing, rescue_mode,
              entering_rescue_mode, failed_entering_rescue_mode, exiting_rescue_mode, failed_exiting_rescue_mode,
              testing, failed_testing]
  preferred_subnets:
    description:
      - CIDRs, in order of preference, of the subnets whose addresses become C(ansible_host), as C(deploy_preferred_subnets)
        of the C(lxdcp.maas.deploy) role.
    type: list
    elements: str
    default: []
notes:
  - The inventory cache (O(cache)) keeps the machines read, with the filters they were read with; while it is valid a
    refresh sends no request to MAAS, and a cache of other filters is not used. C(--flush-cache) reads MAAS again.
  - O(compose), O(groups) and O(keyed_groups) see the host variables above.
seealso:
  - module: lxdcp.maas.maas_machine_info
  - name: The inventory of lxdcp.maas
    description: docs/inventory.md in the collection.
    link: https://github.com/lxdcp/maas/blob/main/docs/inventory.md
"""

EXAMPLES = r"""
# lab.maas.yml, every lxdcp.maas cluster (MAAS_URL and MAAS_API_KEY come from the environment), holds one line:
#   plugin: lxdcp.maas.maas

# prod.maas.yml: the deployed machines of cluster prod, reached on the 10.20.0.0/24 network, cached for an hour.
plugin: lxdcp.maas.maas
clusters: [prod]
status: [deployed]
preferred_subnets: [10.20.0.0/24]
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/lxdcp-maas-inventory
cache_timeout: 3600
keyed_groups:
  - key: maas_pool
    prefix: pool
compose:
  ansible_user: "'ubuntu'"
  kubernetes_provider_id: maas_provider_id
groups:
  big: maas_cores >= 8
"""

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.api import MaasClient
from ansible_collections.lxdcp.maas.plugins.plugin_utils.client import plugin_client
from ansible_collections.lxdcp.maas.plugins.plugin_utils.inventory import (
    ConfigError,
    Query,
    inventory_hosts,
    is_config_name,
    trim,
    unknown_options,
)


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    """Hosts and groups of the lxdcp.maas clusters' machines (``plugin_utils/inventory.py`` builds them)."""

    NAME = "lxdcp.maas.maas"

    # Unit tests replace this to put a fake transport under the client.
    client_class = MaasClient

    def verify_file(self, path):
        """A readable file named ``maas.yml``, ``*.maas.yml`` (or ``.yaml``)."""
        return super(InventoryModule, self).verify_file(path) and is_config_name(path)

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache=cache)
        query = self._configure(path)
        machines = self._machines(path, query, cache)
        strict = self.get_option("strict")
        for host in inventory_hosts(machines, query):
            self.inventory.add_host(host.name)
            for group in host.groups:
                self.inventory.add_group(group)
                self.inventory.add_child(group, host.name)
            for name, value in host.variables.items():
                self.inventory.set_variable(host.name, name, value)
            variables = self.inventory.get_host(host.name).get_vars()
            self._set_composite_vars(self.get_option("compose"), variables, host.name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), variables, host.name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, host.name, strict=strict)

    def _configure(self, path):
        """Read and check the config; the MAAS query of its filters. Every problem is an AnsibleParserError naming it."""
        try:
            config = self._read_config_data(path)
        except AnsibleParserError:
            raise
        except AnsibleError as exc:
            raise AnsibleParserError("%s: %s" % (path, exc.message)) from None
        problem = unknown_options(config, self._options)
        if problem:
            raise AnsibleParserError("%s: %s" % (path, problem))
        try:
            return Query(clusters=self.get_option("clusters"), zones=self.get_option("zones"), pool=self.get_option("pool"),
                         tags=self.get_option("tags"), status=self.get_option("status"),
                         preferred_subnets=self.get_option("preferred_subnets"),
                         vm_provider_id_scheme=self.get_option("vm_provider_id_scheme"))
        except ConfigError as exc:
            raise AnsibleParserError("%s: %s" % (path, exc)) from None

    def _machines(self, path, query, cache):
        """The machines of the query: from the inventory cache when it holds this query's answer, else from MAAS."""
        key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        update = self.get_option("cache") and not cache
        if use_cache:
            try:
                cached = self._cache[key]
            except KeyError:
                update = True
            else:
                if isinstance(cached, dict) and cached.get("query") == query.key():
                    return cached["machines"]
                update = True
        machines = [trim(machine) for machine in self._read(path, query)]
        if update:
            self._cache[key] = dict(query=query.key(), machines=machines)
        return machines

    def _read(self, path, query):
        """The one ``GET /machines/`` of the query."""
        try:
            client = plugin_client(self, "maas inventory", self.client_class)
        except LxdcpError as exc:
            raise AnsibleParserError("%s: %s" % (path, exc)) from None
        try:
            return client.list_machines_tagged(query.tags, **query.filters)
        except LxdcpError as exc:
            raise AnsibleParserError("%s: MAAS could not be read: %s" % (path, exc)) from None
