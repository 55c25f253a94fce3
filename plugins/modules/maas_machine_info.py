#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read MAAS machines, filtered by MAAS, with their addresses, provider ids and lxdcp ownership."""

from __future__ import annotations

DOCUMENTATION = r"""
module: maas_machine_info
short_description: Read MAAS machines with their addresses, provider ids and lxdcp.maas ownership
version_added: 1.0.0
description:
  - Reads machines (LXD VMs and bare metal) with one C(GET /machines/) that MAAS filters by host name, zone, resource
    pool, status and tag. A filter is never applied to a downloaded list of every machine; without any filter, every
    machine the API user can see is returned.
  - For each machine it returns what M(lxdcp.maas.maas_lxd_vm) returns for one (status, zone, pool, VM host, cores,
    memory, tags, interfaces, provider id), its addresses as a flat list, and whether it carries the lxdcp.maas
    ownership tags (RV(machines[].managed), RV(machines[].cluster)).
  - A typical use is to look up every machine of a cluster before changing anything, for example in the
    C(lxdcp.maas.release) role.
  - With O(wait_for) it waits until every matching machine reaches one of those states, asking MAAS for all of them with
    one C(GET /machines/?id=...&id=...) per interval - the requests grow with the time waited, not with the number of
    machines - and reports each machine's outcome (RV(waits)).
  - The module changes nothing.
author:
  - lxdcp.maas maintainers (@lxdcp)
extends_documentation_fragment:
  - lxdcp.maas.auth
  - lxdcp.maas.provider_ids
  - ansible.builtin.action_common_attributes
  - lxdcp.maas.attributes.info_module
  - ansible.builtin.action_common_attributes.flow
  - lxdcp.maas.attributes.action
options:
  system_id:
    description:
      - Only machines with these system ids (MAAS's C(id) filter).
    type: list
    elements: str
  hostname:
    description:
      - Only machines with these host names (short names, as MAAS's C(hostname) filter matches them).
    type: list
    elements: str
  provider_id:
    description:
      - Only the machines with these provider IDs, for example read from Kubernetes node objects (C(spec.providerID)).
      - Every form the collection has written is accepted - C(maas:///<zone>/<system_id>) and
        C(maas-lxd:///<zone>/<system_id>), and the older forms of the versions before 1.0.0,
        C(maas://<zone>/<system_id>) and C(maas-lxd://<zone>/<system_id>). Anything else is an error, before any request.
      - MAAS filters on the system id (C(id)); the zone in the ID is not compared, so a machine moved to another zone
        since is still found (with its provider ID as of now).
    type: list
    elements: str
  cluster:
    description:
      - Only machines of this cluster, those carrying the ownership tag C(lxdcp-cluster-<cluster>) that
        M(lxdcp.maas.maas_lxd_vm) sets.
      - A cluster whose tag does not exist in MAAS has no machine; that is not an error.
    type: str
  tags:
    description:
      - Only machines carrying all of these tags (MAAS filters on them). A tag MAAS does not have matches no machine.
    type: list
    elements: str
  zones:
    description:
      - Only machines in these zones. A zone MAAS does not have is an error.
    type: list
    elements: str
    aliases: [zone]
  pool:
    description:
      - Only machines in these resource pools. A pool MAAS does not have is an error.
    type: list
    elements: str
  status:
    description:
      - Only machines in these states, as MAAS's C(status) filter names them (V(deployed), V(ready),
        V(failed_deployment), ...).
      - MAAS before 3.3 accepts one status only.
    type: list
    elements: str
    choices: [new, commissioning, failed_commissioning, missing, ready, reserved, deployed, retired, broken, deploying,
              allocated, failed_deployment, releasing, failed_releasing, disk_erasing, failed_disk_erasing, rescue_mode,
              entering_rescue_mode, failed_entering_rescue_mode, exiting_rescue_mode, failed_exiting_rescue_mode,
              testing, failed_testing]
  wait_for:
    description:
      - Wait until each machine that matches the filters has one of these status names (as MAAS reports them in
        C(status_name), for example V(Ready), V(Allocated), V(Deployed)), then return the machines as they are then.
      - Needs O(system_id), O(hostname) or O(provider_id). The machines are polled together, one request per interval for those still
        on their way. The interval is a tenth of the time waited so far, from 0.25 s up to 2 s, so a new state is
        seen at most 10 % of the waiting time (0.25 s in the first 2.5 s), and at most 2 s (and one request), after
        MAAS reports it.
      - A machine that reaches a failed state (V(Failed deployment), V(Failed commissioning), V(Broken), ...), is
        deleted, or is still on its way after O(wait_timeout) seconds makes the task fail, with every such machine,
        its state and MAAS's reason in the message; RV(waits) has the outcome of each machine.
    type: list
    elements: str
  wait_timeout:
    description:
      - Seconds to wait with O(wait_for), for all the machines together.
    type: int
    default: 1800
notes:
  - All filters combine; a machine must pass each of them. Several values of O(system_id), O(hostname), O(provider_id),
    O(zones), O(pool) or O(status) mean any of them; several O(tags) mean all of them.
  - Non-admin API users see only the machines MAAS shows them (unowned machines and their own).
seealso:
  - module: lxdcp.maas.maas_lxd_vm
  - module: lxdcp.maas.maas_vmhost_info
  - name: MAAS API, machines
    description: The C(GET /machines/) filters.
    link: https://canonical.com/maas/docs/api#machines
"""

EXAMPLES = r"""
- name: The machines of cluster prod
  lxdcp.maas.maas_machine_info:
    url: http://maas.example.com:5240/MAAS
    api_key: "{{ maas_api_key }}"
    cluster: prod
  register: prod

- name: Their provider ids, for the Kubernetes node objects
  ansible.builtin.debug:
    msg: "{{ prod.machines | items2dict(key_name='hostname', value_name='provider_id') }}"

- name: The machines behind the cluster's Kubernetes nodes (any provider ID form, old or new)
  lxdcp.maas.maas_machine_info:
    provider_id: "{{ nodes.resources | map(attribute='spec.providerID') | list }}"
  register: backing

- name: Look a few machines up by name, whoever they belong to
  lxdcp.maas.maas_machine_info:
    hostname: [cp-1, cp-2, cp-3]
  register: found

- name: Stop if one of them belongs to another cluster
  ansible.builtin.assert:
    that: found.machines | rejectattr('cluster', 'in', [none, 'prod']) | list | length == 0
    fail_msg: "{{ found.machines | rejectattr('cluster', 'in', [none, 'prod']) | map(attribute='hostname') | join(', ') }}
      belong to another cluster"

- name: Wait for the machines two deployments started, polling MAAS once per interval for both
  lxdcp.maas.maas_machine_info:
    system_id: "{{ deployed.results | map(attribute='machine.system_id') | list }}"
    wait_for: [Deployed]
    wait_timeout: 1800
  register: waited

- name: Deployed LXD VMs in zone az1 tagged k8s
  lxdcp.maas.maas_machine_info:
    zones: [az1]
    status: [deployed]
    tags: [k8s]
"""

RETURN = r"""
machines:
  description:
    - The matching machines, sorted by host name.
    - Each has the fields of RV(lxdcp.maas.maas_lxd_vm#module:machine) (C(system_id), C(hostname), C(status), C(zone),
      C(pool), C(vm_host), C(lxd_vm), C(cores), C(memory), C(disks), C(interfaces), C(ip_addresses), C(tags), C(provider_id), ...)
      and those below.
    - C(vm_host) is V(null) for an LXD VM of direct mode (C(lxd_vm) true) - MAAS knows its LXD host only in its power
      parameters, which are not read here.
  returned: always
  type: list
  elements: dict
  contains:
    addresses:
      description:
        - Every address on the machine's interface links, with C(ip), C(mode) (V(static) for a sticky address,
          V(auto) for one MAAS picks at deployment, V(dhcp)), C(subnet) (CIDR) and C(interface) (its name).
        - An C(auto) link has an address only while the machine is deployed.
      type: list
      elements: dict
      sample: [{ip: 10.10.0.21, mode: static, subnet: 10.10.0.0/24, interface: eth0}]
    managed:
      description: Whether the machine carries the tag C(lxdcp-managed) (it was created or taken by lxdcp.maas).
      type: bool
      sample: true
    cluster:
      description:
        - The cluster named by the machine's C(lxdcp-cluster-<cluster>) tag; V(null) when it has none.
        - A machine carrying several cluster tags (set by hand) is reported with the first in alphabetical order;
          C(tags) lists them all.
      type: str
      sample: prod
missing:
  description:
    - Host names of O(hostname) that no returned machine has (no such machine, or it fails another filter).
    - Provider IDs of O(provider_id) whose system id no returned machine has, as they were given.
  returned: when O(hostname) or O(provider_id) is given
  type: list
  elements: str
  sample: [cp-3]
missing_ids:
  description: System ids of O(system_id) that no returned machine has.
  returned: when O(system_id) is given
  type: list
  elements: str
  sample: [x7dfp3]
waits:
  description: With O(wait_for), the outcome of each machine waited for, sorted by host name.
  returned: when O(wait_for) is given
  type: list
  elements: dict
  contains:
    system_id:
      description: The machine's system id.
      type: str
    hostname:
      description: The machine's host name.
      type: str
    status:
      description: Its last status name (V(null) when it was deleted while waiting).
      type: str
    ok:
      description: Whether it reached one of O(wait_for).
      type: bool
    timed_out:
      description: Whether it was still on its way at the deadline.
      type: bool
    reason:
      description: Why it did not reach O(wait_for) (the state, MAAS's status message and error); empty when RV(waits[].ok).
      type: str
  sample: [{system_id: x7dfp3, hostname: cp-1, status: Deployed, ok: true, timed_out: false, reason: ""}]
polls:
  description: With O(wait_for), the requests sent while waiting (each asks for every machine still on its way).
  returned: when O(wait_for) is given
  type: int
  sample: 5
"""

from ansible_collections.lxdcp.maas.plugins.module_utils.info import machine_info
from ansible_collections.lxdcp.maas.plugins.module_utils.machines import PROVIDER_ID_ARGUMENT_SPEC
from ansible_collections.lxdcp.maas.plugins.module_utils.module import ModuleTask

STATUSES = [
    "new", "commissioning", "failed_commissioning", "missing", "ready", "reserved", "deployed", "retired", "broken",
    "deploying", "allocated", "failed_deployment", "releasing", "failed_releasing", "disk_erasing", "failed_disk_erasing",
    "rescue_mode", "entering_rescue_mode", "failed_entering_rescue_mode", "exiting_rescue_mode",
    "failed_exiting_rescue_mode", "testing", "failed_testing",
]

ARGUMENT_SPEC = dict(
    PROVIDER_ID_ARGUMENT_SPEC,
    system_id=dict(type="list", elements="str"),
    hostname=dict(type="list", elements="str"),
    provider_id=dict(type="list", elements="str"),
    cluster=dict(type="str"),
    tags=dict(type="list", elements="str"),
    zones=dict(type="list", elements="str", aliases=["zone"],
               deprecated_aliases=[dict(name="zone", version="2.0.0", collection_name="lxdcp.maas")]),
    pool=dict(type="list", elements="str"),
    status=dict(type="list", elements="str", choices=STATUSES),
    wait_for=dict(type="list", elements="str"),
    wait_timeout=dict(type="int", default=1800),
)


# Run by main() here, and by the collection's action plugin in the controller's process when the task runs there.
TASK = ModuleTask(machine_info, argument_spec=ARGUMENT_SPEC, supports_check_mode=True, failure_result=dict(machines=[]))


def main():
    """Entry point."""
    TASK.main()


if __name__ == "__main__":
    main()
