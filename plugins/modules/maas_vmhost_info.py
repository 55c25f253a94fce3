#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""List MAAS VM hosts with their free capacity and health."""

from __future__ import annotations

DOCUMENTATION = r"""
module: maas_vmhost_info
short_description: List MAAS VM hosts with free capacity (over-commit applied) and health
version_added: 1.0.0
description:
  - Lists the LXD (or all) VM hosts of a MAAS region, filtered by name, zone, resource pool, tags and type.
  - For each host it returns totals, what is used, and what is free with over-commit applied
    (C(total * ratio - used) for cores and memory, the same arithmetic the placement of
    M(lxdcp.maas.maas_lxd_vm) uses), storage per pool in bytes and GB, and the health of the machine
    the host runs on.
  - Health comes from one filtered request for all backing machines (C(GET /machines/?id=...)).
  - The LXD project needs one extra admin-only request per host and is therefore opt-in (O(include_project)).
  - MAAS removed VM hosts after 3.8. Against such a MAAS (C(/vm-hosts/) answers 410 Gone), or with O(lxd_via=direct),
    the module lists the LXD hosts of direct mode instead, in the same shape - MAAS machines tagged O(lxd_host_tag)
    and the O(lxd_hosts) entries, read from LXD (C(/1.0/resources), the instances' C(limits.cpu)/C(limits.memory),
    the storage pools) as M(lxdcp.maas.maas_lxd_vm) reads them to place a VM. With O(lxd_via=vm-host) it fails instead.
author:
  - lxdcp.maas maintainers (@lxdcp)
extends_documentation_fragment:
  - lxdcp.maas.auth
  - lxdcp.maas.lxd_hosts
  - ansible.builtin.action_common_attributes
  - lxdcp.maas.attributes.info_module
  - ansible.builtin.action_common_attributes.flow
  - lxdcp.maas.attributes.action
options:
  name:
    description:
      - Only hosts with these names or ids.
    type: list
    elements: str
  zones:
    description:
      - Only hosts in these zones. Unknown zone names are an error.
    type: list
    elements: str
    aliases: [zone]
  pool:
    description:
      - Only hosts in this resource pool. An unknown pool is an error.
    type: str
  host_tags:
    description:
      - Only hosts that carry all of these tags.
    type: list
    elements: str
    aliases: [tags]
  type:
    description:
      - Only hosts of this type; V(any) lists every type.
    type: str
    choices: [lxd, virsh, any]
    default: lxd
  include_health:
    description:
      - Read the state of the machines the hosts run on (one request for all hosts).
    type: bool
    default: true
  include_project:
    description:
      - Also return the LXD project of each host.
      - Costs one admin-only request per host (C(op=parameters)). Only the project is taken from the answer;
        the password, key and certificate it also holds are never returned.
      - Without admin rights the project is returned as V(null) with a warning.
      - In direct mode the project comes from the LXD host's O(lxd_hosts) entry (no extra request).
    type: bool
    default: false
notes:
  - The MAAS API has no server-side filter for VM hosts; the list is filtered after one request.
seealso:
  - module: lxdcp.maas.maas_lxd_vm
"""

EXAMPLES = r"""
- name: LXD hosts in zone az1 with their free capacity
  lxdcp.maas.maas_vmhost_info:
    url: http://maas.example.com:5240/MAAS
    api_key: "{{ maas_api_key }}"
    zones: [az1]
  register: hosts

- name: Hosts with room for an 8-core VM
  ansible.builtin.debug:
    msg: "{{ hosts.vm_hosts | selectattr('free.cores', '>=', 8) | map(attribute='name') | list }}"

- name: One host by name, with its LXD project (admin key)
  lxdcp.maas.maas_vmhost_info:
    name: [lxd-az1-a]
    include_project: true
"""

RETURN = r"""
via:
  description: V(vm-host) when the hosts listed are MAAS's VM hosts, V(direct) when they are the LXD hosts of direct mode.
  returned: always
  type: str
  sample: vm-host
vm_hosts:
  description: The matching VM hosts, ordered by id (in direct mode the LXD hosts, ordered by name).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: VM host id (V(null) for an LXD host of direct mode).
      type: int
      sample: 1
    url:
      description: The LXD API endpoint of an LXD host of direct mode.
      type: str
      returned: in direct mode
      sample: https://10.10.0.11:8443
    name:
      description: VM host name.
      type: str
      sample: lxd-az1-a
    type:
      description: Power driver, V(lxd) or V(virsh).
      type: str
      sample: lxd
    version:
      description: Hypervisor version (MAAS 3.0+).
      type: str
      sample: "5.21.1"
    zone:
      description: Zone name.
      type: str
      sample: az1
    pool:
      description: Resource pool name (default pool of VMs composed on the host).
      type: str
      sample: default
    tags:
      description: Host tags.
      type: list
      elements: str
      sample: [pod-console-logging]
    architectures:
      description: Architectures the host can run.
      type: list
      elements: str
    capabilities:
      description: Driver capabilities (V(composable), V(over_commit), V(storage_pools), ...).
      type: list
      elements: str
    host_system_id:
      description: System id of the machine the host runs on, V(null) for a host added by address (or an O(lxd_hosts)
        entry that is no MAAS machine).
      type: str
      sample: 4y3h7n
    project:
      description: LXD project (only with O(include_project); V(null) when unknown).
      type: str
      returned: when O(include_project=true)
      sample: default
    cpu_over_commit_ratio:
      description: CPU over-commit ratio.
      type: float
      sample: 1.0
    memory_over_commit_ratio:
      description: Memory over-commit ratio.
      type: float
      sample: 1.0
    total:
      description: Host totals; C(memory) in MiB, C(local_storage) in bytes.
      type: dict
      sample: {cores: 16, memory: 65536, local_storage: 500000000000}
    used:
      description: Allocated to VMs; same units.
      type: dict
      sample: {cores: 2, memory: 4096, local_storage: 20000000000}
    free:
      description:
        - Free capacity with over-commit applied, C(cores = total * cpu_over_commit_ratio - used),
          C(memory = total * memory_over_commit_ratio - used) (MiB); C(local_storage) in bytes and C(local_storage_gb) in GB.
      type: dict
      sample: {cores: 14, memory: 61440, local_storage: 480000000000, local_storage_gb: 480.0}
    storage_pools:
      description: Storage pools with C(total), C(used), C(available) in bytes and C(total_gb), C(used_gb), C(available_gb) in GB.
      type: list
      elements: dict
    default_storage_pool:
      description: Name of the host's default storage pool.
      type: str
      sample: default
    health:
      description:
        - Health from the backing machine. C(state) is V(healthy), V(unhealthy) or V(unknown) (no backing machine,
          or not visible); C(healthy) is false only for a known problem (machine not Deployed, powered off or in error).
      type: dict
      sample: {healthy: true, state: healthy, reason: backing machine lxd-az1-a is Deployed, system_id: 4y3h7n,
               machine_status: Deployed, power_state: "on"}
"""

from ansible_collections.lxdcp.maas.plugins.module_utils.info import vm_host_info
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd_hosts import LXD_ARGUMENT_SPEC
from ansible_collections.lxdcp.maas.plugins.module_utils.module import ModuleTask

ARGUMENT_SPEC = dict(
    LXD_ARGUMENT_SPEC,
    name=dict(type="list", elements="str"),
    zones=dict(type="list", elements="str", aliases=["zone"],
               deprecated_aliases=[dict(name="zone", version="2.0.0", collection_name="lxdcp.maas")]),
    pool=dict(type="str"),
    host_tags=dict(type="list", elements="str", aliases=["tags"],
                   deprecated_aliases=[dict(name="tags", version="2.0.0", collection_name="lxdcp.maas")]),
    type=dict(type="str", choices=["lxd", "virsh", "any"], default="lxd"),
    include_health=dict(type="bool", default=True),
    include_project=dict(type="bool", default=False),
)


# Run by main() here, and by the collection's action plugin in the controller's process when the task runs there.
TASK = ModuleTask(vm_host_info, argument_spec=ARGUMENT_SPEC, supports_check_mode=True, failure_result=dict(vm_hosts=[], via=None))


def main():
    """Entry point."""
    TASK.main()


if __name__ == "__main__":
    main()
