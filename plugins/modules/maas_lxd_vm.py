#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compose, deploy, release and delete LXD VMs (or allocate bare-metal machines) in MAAS."""

from __future__ import annotations

DOCUMENTATION = r"""
module: maas_lxd_vm
short_description: Compose, deploy, release and remove LXD VMs (or bare-metal machines) in MAAS
version_added: 1.0.0
description:
  - Manages one machine, identified by its O(hostname), through the MAAS API.
  - In O(provisioning_mode=lxd) it composes an LXD virtual machine on a MAAS VM host, either the one named in
    O(vm_host) or one chosen by the placement core from O(zone), O(pool) and O(host_tags) (zone spread and
    anti-affinity with the other VMs of O(cluster)). If composing fails on the chosen host, the next suitable host
    is tried and every attempt is reported.
  - In O(provisioning_mode=bare-metal) it allocates a machine MAAS already manages, by constraints, so that one
    task handles both kinds of control-plane machine.
  - Idempotent; a second run with the same arguments sends no write request. A VM whose cores, memory or disks
    differ from the arguments is reported as drift and the task fails, unless O(recreate=true).
  - Check mode sends no write request and predicts the outcome, including the VM host that would be chosen.
  - Machines it creates carry the tag C(lxdcp-managed), plus C(lxdcp-cluster-<cluster>) with O(cluster);
    it only changes or removes machines that carry them.
  - If tagging fails right after the task composed (or allocated) the machine, the machine is deleted (or released)
    again and the task fails saying so. A machine that a failed run left without the tags - a composed VM that is
    V(New), V(Commissioning) or V(Ready) and owned by nobody, or a bare-metal machine allocated to the API user with
    this task's C(agent_name) - is adopted (tagged, with a warning) by the next run that does not remove it;
    O(state=absent) refuses it until then.
author:
  - lxdcp.maas maintainers (@lxdcp)
extends_documentation_fragment:
  - lxdcp.maas.auth
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: No write request is sent; the result says what would be done and which host would be chosen.
  diff_mode:
    support: full
    details: Shows the hostname, state, cores, memory, disks, VM host, zone, pool, tags and IP addresses before and after.
  platform:
    platforms: all
options:
  hostname:
    description:
      - Short hostname of the machine; its identity in MAAS.
      - Letters, digits and hyphens, at most 63 characters, no dots (use O(domain) for the DNS domain).
    type: str
    required: true
  state:
    description:
      - V(present) - the machine exists. In V(lxd) mode a missing VM is composed and waited for until
        MAAS has commissioned it (V(Ready)); a deployed VM stays deployed. In V(bare-metal) mode the machine is
        allocated to the API user (V(Allocated)), which keeps anyone else from taking it.
      - V(deployed) - as V(present), then deployed with O(osystem), O(distro_series), O(hwe_kernel) and O(user_data).
      - V(released) - the machine exists and is not deployed or allocated (V(Ready)). A missing VM is composed;
        a missing bare-metal machine is left alone.
      - V(absent) - in V(lxd) mode the VM is released, deleted (MAAS destroys it on the LXD host), its IP addresses
        are checked to be free and the host's capacity is checked to have come back. In V(bare-metal) mode the
        machine is released and the ownership tags are removed; the machine record is only deleted with
        O(delete_bare_metal=true). A free (V(Ready), unowned) bare-metal machine of that name without ownership tags
        is absent already (no change); one allocated by someone else or tagged for another cluster is refused.
    type: str
    choices: [present, deployed, released, absent]
    default: present
  provisioning_mode:
    description:
      - V(lxd) composes an LXD VM on a MAAS VM host; V(bare-metal) allocates a machine MAAS manages.
      - In V(bare-metal) mode a missing machine is allocated by constraints (O(cores) and O(memory) as minimums,
        O(zone), O(pool), O(host_tags) as machine tags, O(disks) sizes) and renamed to O(hostname); an existing
        machine of that name is used if it carries the ownership tags, or if it is V(Ready), not owned by anyone
        and carries no other cluster's tag.
    type: str
    choices: [lxd, bare-metal]
    default: lxd
  cluster:
    description:
      - Name of the cluster the machine belongs to. Adds the ownership tag C(lxdcp-cluster-<cluster>), spreads
        the cluster's VMs over zones and hosts, and restricts changes to machines of this cluster.
      - Letters, digits, C(_) and C(-).
    type: str
  cores:
    description:
      - CPU cores of the VM (V(lxd)), or the minimum cores of the machine (V(bare-metal)).
      - When composing and not set, V(2). When not set, an existing machine's cores are not checked.
    type: int
  memory:
    description:
      - Memory in MiB, or with a unit, for example V(4096), V(4096M), V(4G), V(4GiB) (K, M, G, T are powers of 1024;
        KB, MB, GB, TB powers of 1000 and must come to whole MiB).
      - At least 1024 MiB for a VM (MAAS's compose minimum). Minimum memory in V(bare-metal) mode.
      - When composing and not set, 4096 MiB. When not set, an existing machine's memory is not checked.
    type: str
  disks:
    description:
      - Disks of the VM; the first is the root disk. When composing and not set, one 20 GiB disk on the host's
        default storage pool.
      - The placement checks room in the root disk's storage pool for the disks on that pool; MAAS checks the rest.
      - When not set, an existing machine's disks are not checked.
    type: list
    elements: dict
    suboptions:
      size:
        description:
          - Size; a bare number is GiB; V(20G), V(20GiB) (binary) or V(20GB) (decimal) are accepted.
        type: str
        required: true
      pool:
        description:
          - LXD storage pool on the VM host; by default the host's default pool. Not used in V(bare-metal) mode.
        type: str
  vm_host:
    description:
      - Name or id of the VM host to compose on. When not set, the placement core chooses one (see O(strategy)).
      - It must still match O(zone), O(pool) and O(host_tags) when those are given.
    type: str
  zone:
    description:
      - Zones the machine may go to. In V(lxd) mode the VM is composed in the zone of its host.
      - The cluster's machines are spread evenly over these zones.
    type: list
    elements: str
  pool:
    description:
      - Resource pool. In V(lxd) mode only VM hosts in this pool are used and the VM is put in it.
    type: str
  host_tags:
    description:
      - Tags the VM host must carry (V(lxd)) or the machine must carry (V(bare-metal)).
    type: list
    elements: str
  strategy:
    description:
      - How the placement core ranks the hosts that pass the filters and keep the cluster's zones balanced.
      - V(most-free) prefers the host with the most free cores and memory relative to the VM's size;
        V(least-allocated-cpu) the one with the fewest allocated cores; V(balanced) the one whose CPU and memory
        use stay closest to each other.
    type: str
    choices: [most-free, least-allocated-cpu, balanced]
    default: most-free
  project:
    description:
      - LXD project the VM must be in.
      - MAAS has no per-VM project; the project is a setting of the VM host (one project per VM host). This
        option therefore restricts the choice to VM hosts configured with this project, which costs one
        admin-only request per LXD host (C(op=parameters)).
      - MAAS offers no way to choose an LXD profile either; it applies the profile named C(maas) when it exists in
        the host's project.
    type: str
  interfaces:
    description:
      - Network interfaces of the VM, in order. When not set, MAAS gives the VM one interface on the host's
        default network.
      - An O(interfaces[].ip) is made a static (sticky) address that survives release and redeploy
        (see the notes).
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - Interface name in the VM; by default C(eth0), C(eth1), ... by position.
        type: str
      subnet:
        description:
          - CIDR of the MAAS subnet to attach the interface to. Optional with O(interfaces[].ip).
        type: str
      ip:
        description:
          - Static IP address. Must lie in a MAAS subnet, outside dynamic and reserved ranges, and be free.
          - Checked with the collection's shared IP validator before any write.
          - An address the API user reserved for this hostname (for example with M(lxdcp.maas.maas_static_ip) and
            this hostname, or without a DNS name) is taken over - the reservation is released right before the VM
            takes the address, as MAAS treats a reserved address as in use.
        type: str
  user_data:
    description:
      - cloud-init user data for the deployment (text); sent base64-encoded as MAAS expects.
      - Only used when the machine is deployed by this task.
    type: str
  osystem:
    description:
      - Operating system to deploy, for example V(ubuntu). Sent to MAAS as C(<osystem>/<distro_series>).
    type: str
  distro_series:
    description:
      - Release to deploy, for example V(jammy) or V(noble). MAAS's default when not set.
    type: str
  hwe_kernel:
    description:
      - Kernel to deploy, for example V(ga-22.04) or V(hwe-22.04).
    type: str
  tags:
    description:
      - Extra MAAS tags to put on the machine (created when missing). Tags are only added, never removed.
    type: list
    elements: str
  domain:
    description:
      - DNS domain of a new VM (name). The MAAS default domain when not set.
    type: str
  wait:
    description:
      - Wait for MAAS to finish (commissioning after compose, deployment, release, deletion).
      - Without it, static IPs are set on a later run, once MAAS has commissioned the VM.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds the whole task may wait for MAAS. Polling starts at 0.5 s and backs off to 10 s.
    type: int
    default: 1800
  recreate:
    description:
      - When an existing VM differs from O(cores), O(memory), O(disks), O(vm_host), O(zone) or O(pool), delete it
        and compose it again. Without it, such drift makes the task fail. Not available in V(bare-metal) mode.
    type: bool
    default: false
  delete_bare_metal:
    description:
      - With O(state=absent) in V(bare-metal) mode, also delete the machine record from MAAS.
    type: bool
    default: false
notes:
  - Static IPs. MAAS offers two ways. Compose's C(interfaces=eth0:ip=X) attaches the VM to the right network and
    gives it X at once, but as an AUTO address that MAAS releases when the machine is released, so a
    release/redeploy cycle can change it. C(link_subnet mode=STATIC) gives a sticky address that survives release
    and redeploy but needs the machine commissioned (MAAS only links subnets on New, Ready, Allocated or Broken
    machines). The module uses both, for control-plane addresses that never move - compose with C(ip=X), then,
    once the VM is Ready, replace that AUTO link with a STATIC link carrying the same address.
  - Deleting a VM makes MAAS delete its interfaces and their addresses; the module then checks that every former
    address is free and releases any left behind by it.
  - Requires a MAAS with VM hosts (3.0 to 3.8 for LXD). MAAS removed VM hosts after 3.8; the module then fails
    with a message saying so (V(bare-metal) mode still works).
requirements:
  - netaddr (only with O(interfaces))
seealso:
  - module: lxdcp.maas.maas_vmhost_info
  - module: lxdcp.maas.maas_static_ip
"""

EXAMPLES = r"""
- name: Control-plane VM in the least loaded zone of three
  lxdcp.maas.maas_lxd_vm:
    url: http://maas.example.com:5240/MAAS
    api_key: "{{ maas_api_key }}"
    hostname: cp-1
    cluster: prod
    zone: [az1, az2, az3]
    cores: 4
    memory: 8G
    disks:
      - size: 40G
    interfaces:
      - ip: 10.10.0.11
    state: deployed
    distro_series: jammy
    user_data: "{{ lookup('ansible.builtin.template', 'cloud-init.yml.j2') }}"

- name: On a given VM host and storage pool
  lxdcp.maas.maas_lxd_vm:
    hostname: etcd-1
    vm_host: lxd-az1-a
    cores: 2
    memory: 4096
    disks:
      - size: 20G
        pool: fast

- name: Bare-metal control-plane machine with the same task
  lxdcp.maas.maas_lxd_vm:
    hostname: cp-4
    provisioning_mode: bare-metal
    cluster: prod
    cores: 8
    memory: 32G
    zone: [az1]
    host_tags: [control-plane]
    state: deployed

- name: Remove a VM, free its addresses and check the host got its capacity back
  lxdcp.maas.maas_lxd_vm:
    hostname: cp-1
    cluster: prod
    state: absent
"""

RETURN = r"""
machine:
  description: The machine after the task (V(null) when absent, or when it would be created in check mode).
  returned: always
  type: dict
  contains:
    system_id:
      description: MAAS system id.
      type: str
      sample: pwtk7e
    hostname:
      description: Hostname.
      type: str
      sample: cp-1
    fqdn:
      description: Fully qualified name.
      type: str
      sample: cp-1.maas
    status:
      description: MAAS status name (V(Ready), V(Deployed), ...).
      type: str
      sample: Deployed
    status_message:
      description: MAAS's last event for the machine.
      type: str
    zone:
      description: Zone name.
      type: str
      sample: az1
    pool:
      description: Resource pool name.
      type: str
      sample: default
    domain:
      description: DNS domain.
      type: str
      sample: maas
    vm_host:
      description: VM host the VM runs on (C(id), C(name)), V(null) for bare metal.
      type: dict
      sample: {id: 1, name: lxd-az1-a}
    cores:
      description: CPU cores.
      type: int
      sample: 4
    memory:
      description: Memory in MiB.
      type: int
      sample: 8192
    disks:
      description: Disks (C(name), C(size) in bytes, C(size_gb) decimal GB), root disk first.
      type: list
      elements: dict
      sample: [{name: sda, size: 42949672960, size_gb: 42.95}]
    interfaces:
      description:
        - Interfaces with C(name), C(mac_address) and C(links); each link has C(mode) (the config method V(static),
          V(auto), V(dhcp) or V(link_up)), C(ip_address), C(subnet) (CIDR) and C(gateway).
      type: list
      elements: dict
    ip_addresses:
      description: IP addresses MAAS reports for the machine.
      type: list
      elements: str
      sample: [10.10.0.11]
    gateway:
      description: Default IPv4 gateway.
      type: str
      sample: 10.10.0.1
    dns_servers:
      description: DNS servers of the machine's subnets (MAAS serves DNS itself when empty).
      type: list
      elements: str
    tags:
      description: Machine tags.
      type: list
      elements: str
      sample: [lxdcp-managed, lxdcp-cluster-prod, virtual]
    osystem:
      description: Deployed operating system (empty unless deployed).
      type: str
    distro_series:
      description: Deployed release (empty unless deployed).
      type: str
    power_state:
      description: Power state.
      type: str
    owner:
      description: User the machine is allocated to.
      type: str
    provider_id:
      description: C(maas-lxd://<zone>/<system_id>) for LXD VMs, C(maas://<zone>/<system_id>) for bare metal.
      type: str
      sample: maas-lxd://az1/pwtk7e
provider_id:
  description: The machine's provider id (see RV(machine.provider_id)); V(null) when there is no machine.
  returned: always
  type: str
  sample: maas-lxd://az1/pwtk7e
actions:
  description: What the task did, or would do in check mode, in order.
  returned: always
  type: list
  elements: str
  sample: ["compose cp-1 on lxd-az1-a (4 cores, 8192 MiB, 40 GiB)", "tag cp-1 lxdcp-managed", "deploy cp-1 jammy"]
placement:
  description:
    - How the VM host was chosen (when one was) - the placement core's plan for one VM (C(placements) with
      C(host), C(zone), C(reason); C(rejected) hosts with a C(code) and C(reason)), and C(attempts), one entry
      per compose attempt with C(host), C(ok) and C(error).
  returned: when a VM host was chosen
  type: dict
drift:
  description: Differences between the arguments and the existing machine (C(field), C(current), C(wanted)).
  returned: always
  type: list
  elements: dict
  sample: [{field: cores, current: 2, wanted: 4}]
released_ips:
  description: Reservations of the API user on the deleted VM's addresses that nothing uses any more, released by the task (normally empty).
  returned: when O(state=absent)
  type: list
  elements: str
capacity_restored:
  description:
    - Whether the VM host's used cores and memory went down by the VM's size after deletion.
    - V(null) when not checked - in check mode, with O(wait=false), when the VM was already gone, or when MAAS
      answers 410 for VM hosts (MAAS after 3.8; the VM is deleted all the same, with a warning).
  returned: when O(state=absent) in V(lxd) mode
  type: bool
maas_log:
  description: Requests (with attempt numbers and retry delays) and decisions of the run, without secrets (with C(-vvv)).
  returned: when verbosity >= 3
  type: list
  elements: str
"""

import base64
import contextlib
import re
import time

from ansible_collections.lxdcp.maas.plugins.module_utils.client import (
    ALLOCATED,
    COMMISSIONING,
    DEPLOYED,
    DEPLOYING,
    FAILED_STATES,
    NEW,
    READY,
    RELEASING,
    MaasConflict,
    MaasError,
    MaasGone,
    MaasRetriesExhausted,
    MaasUnavailable,
    MaasValidationError,
    machine_reason,
)
from ansible_collections.lxdcp.maas.plugins.module_utils.common import (
    CLUSTER_TAG_PREFIX,
    MANAGED_TAG,
    TAG_RE,
    MaasModule,
    backing_machines,
    check_places,
    cluster_members,
    cluster_tag,
    interface_links,
    is_vm,
    machine_disks,
    machine_view,
    placement_host,
    replica_counts,
    vm_host_health,
    vm_host_project,
)
from ansible_collections.lxdcp.maas.plugins.module_utils import ipaddr
from ansible_collections.lxdcp.maas.plugins.module_utils.placement.core import PlacementError, Request, plan, storage_pool_for
from ansible_collections.lxdcp.maas.plugins.module_utils.placement.explain import VM, error_dict, error_message, plan_dict, plan_lines
from ansible_collections.lxdcp.maas.plugins.module_utils.units import (
    GIB,
    SizeError,
    maas_gb,
    parse_disk_bytes,
    parse_memory_mib,
    same_size,
)

INTERFACE_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$")
MIN_VM_MEMORY = 1024
DEFAULT_CORES = 2
DEFAULT_MEMORY = 4096
DEFAULT_DISK = 20 * GIB
# States from which MAAS can release a machine.
RELEASABLE = frozenset([ALLOCATED, DEPLOYED, DEPLOYING, "Failed deployment", "Broken", "Releasing failed", "Reserved"])
# States in which MAAS accepts link_subnet on a machine's interface.
LINKABLE = frozenset(["New", READY, ALLOCATED, "Broken", "Failed testing"])
# Statuses a machine passes through on its own on the way to Ready.
ON_THE_WAY_TO_READY = frozenset(["New", "Commissioning", "Testing", RELEASING, "Disk erasing"])
# Statuses of a VM that was composed and never taken further (what a run that died right after compose leaves).
JUST_COMPOSED = frozenset([NEW, COMMISSIONING, READY])
BARE_METAL_AGENT = "lxdcp:"


class SpecError(ValueError):
    """The task's arguments are invalid; raised before any request."""


# --------------------------------------------------------------------------------------------
# Arguments


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
        self.zones = list(dict.fromkeys(params["zone"])) if params["zone"] else None
        self.pool = params["pool"]
        self.host_tags = tuple(params["host_tags"] or ())
        self.vm_host = params["vm_host"]
        self.project = params["project"]
        self.tags = list(params["tags"] or [])
        self.domain = params["domain"]
        self.strategy = params["strategy"]
        self.wait = params["wait"]
        self.wait_timeout = params["wait_timeout"]
        self.recreate = params["recreate"]
        self._validate()

    def _validate(self):
        params = self.params
        if not self.hostname or "." in self.hostname or not ipaddr.valid_hostname(self.hostname):
            hint = " (a short name: use domain for the DNS domain)" if "." in (self.hostname or "") else ""
            raise SpecError("hostname %r is not a valid MAAS hostname: letters, digits and hyphens, 1 to 63 characters, "
                            "not starting or ending with a hyphen%s" % (self.hostname, hint))
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
        if self.cluster is not None and not TAG_RE.match(self.cluster):
            raise SpecError("cluster %r may only contain letters, digits, '_' and '-' (it becomes the MAAS tag %s)"
                            % (self.cluster, cluster_tag(self.cluster)))
        for tag in self.tags + list(self.host_tags):
            if not TAG_RE.match(tag):
                raise SpecError("tag %r is not a valid MAAS tag name (letters, digits, '_' and '-')" % tag)
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
            parsed.append(dict(name=name, subnet=subnet, ip=item.get("ip") or None))
        names = [i["name"] for i in parsed]
        repeated = sorted(set(n for n in names if names.count(n) > 1))
        if repeated:
            raise SpecError("interface names must be unique; repeated: %s" % ", ".join(repeated))
        request = ipaddr.check_request(self.address_entries(parsed), ipaddr.RESERVE, what="interfaces")
        if request.problems:
            raise SpecError(ipaddr.summarize(request.problems, "interface address"))
        for item, planned in zip([i for i in parsed if i["ip"]], request.planned):
            item["ip"] = str(planned.ip)
        return parsed

    def address_entries(self, interfaces=None, system_id=None):
        """The static addresses as entries of the shared IP validator (plugins/module_utils/ipaddr.py)."""
        entries = []
        for item in self.interfaces if interfaces is None else interfaces:
            if item["ip"]:
                entry = dict(address=item["ip"], hostname=self.hostname, system_id=system_id)
                if item["subnet"]:
                    entry["subnet"] = item["subnet"]
                entries.append(entry)
        return entries

    def _conflicts(self):
        params = self.params
        if not self.lxd:
            lxd_only = [name for name in ("vm_host", "project") if params[name]]
            if any(d.get("pool") for d in self.disks or []):
                lxd_only.append("disks[].pool")
            if self.interfaces:
                lxd_only.append("interfaces")
            if params["recreate"]:
                lxd_only.append("recreate")
            if lxd_only:
                raise SpecError("%s only apply to provisioning_mode: lxd (a bare-metal machine is allocated as it is)"
                                % ", ".join(lxd_only))
        elif params["delete_bare_metal"]:
            raise SpecError("delete_bare_metal only applies to provisioning_mode: bare-metal")
        if params["osystem"] and not params["distro_series"]:
            raise SpecError("osystem needs distro_series (MAAS deploys '<osystem>/<distro_series>')")

    # -- derived values --------------------------------------------------------------------

    @property
    def owner_tags(self):
        """The ownership tags this task requires and sets."""
        tags = [MANAGED_TAG]
        if self.cluster:
            tags.append(cluster_tag(self.cluster))
        return tags

    @property
    def wanted_tags(self):
        """Ownership tags plus the user's tags, without repeats, in the order they are added.

        The cluster tag goes first and lxdcp-managed after it (``state: absent`` removes them the other
        way round), so a machine carrying this cluster's tag alone is one whose tagging or untagging by
        this task was interrupted: see ``VmTask.half_tagged``.
        """
        return list(dict.fromkeys(self.owner_tags[::-1] + self.tags))

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


# --------------------------------------------------------------------------------------------
# Reading machines


def machine_ips(machine):
    """``{interface name: [ip, ...]}`` of the addresses on the machine's links."""
    ips = {}
    for interface in machine.get("interface_set") or []:
        ips[interface.get("name")] = [link["ip_address"] for link in interface_links(interface) if link["ip_address"]]
    return ips


def lxdcp_tags(machine):
    """The lxdcp ownership tags the machine carries (of any cluster)."""
    return [t for t in machine.get("tag_names") or [] if t == MANAGED_TAG or t.startswith(CLUSTER_TAG_PREFIX)]


def find_drift(machine, spec):
    """Differences between an existing machine and the arguments: ``[{field, current, wanted}]``.

    Only what the task sets is compared. In bare-metal mode cores and memory are minimums.
    """
    drift = []

    def add(field, current, wanted):
        drift.append(dict(field=field, current=current, wanted=wanted))

    if spec.cores is not None:
        current = machine.get("cpu_count")
        if (current != spec.cores) if spec.lxd else (current or 0) < spec.cores:
            add("cores", current, spec.cores if spec.lxd else ">= %d" % spec.cores)
    if spec.memory is not None:
        current = machine.get("memory")
        if (current != spec.memory) if spec.lxd else (current or 0) < spec.memory:
            add("memory", current, spec.memory if spec.lxd else ">= %d" % spec.memory)
    if spec.disks is not None and spec.lxd:
        current = [d["size"] for d in machine_disks(machine)]
        wanted = [d["size"] for d in spec.disks]
        if len(current) != len(wanted) or not all(same_size(c, w) for c, w in zip(current, wanted)):
            add("disks", current, wanted)
    pod = machine.get("pod") or {}
    if spec.lxd and spec.vm_host and spec.vm_host not in (pod.get("name"), str(pod.get("id"))):
        add("vm_host", pod.get("name"), spec.vm_host)
    zone = (machine.get("zone") or {}).get("name")
    if spec.zones and zone not in spec.zones:
        add("zone", zone, spec.zones)
    pool = (machine.get("pool") or {}).get("name")
    if spec.pool and pool != spec.pool:
        add("pool", pool, spec.pool)
    current_ips = machine_ips(machine)
    for interface in spec.interfaces:
        if interface["name"] not in current_ips:
            add("interfaces", sorted(current_ips), interface["name"])
        elif interface["ip"] and interface["ip"] not in current_ips[interface["name"]] and machine.get("status_name") not in LINKABLE:
            add("ip of %s" % interface["name"], current_ips[interface["name"]], interface["ip"])
    return drift


def diff_view(machine, state=None):
    """The fields shown by --diff."""
    if machine is None:
        return {}
    view = machine_view(machine)
    return dict(
        hostname=view["hostname"],
        status=state or view["status"],
        cores=view["cores"],
        memory=view["memory"],
        disks=[d["size"] for d in view["disks"]],
        vm_host=(view["vm_host"] or {}).get("name"),
        zone=view["zone"],
        pool=view["pool"],
        tags=sorted(view["tags"]),
        ip_addresses=sorted(ip for ips in machine_ips(machine).values() for ip in ips),
    )


def wanted_view(machine, drift, spec):
    """What --diff shows as "after" for a machine with ``drift``: its fields with the wanted values in place."""
    after = diff_view(machine)
    for item in drift:
        field, wanted = item["field"], item["wanted"]
        if field == "zone" and len(wanted) == 1:
            wanted = wanted[0]
        if field in after:
            after[field] = wanted
    if any(item["field"] == "interfaces" or item["field"].startswith("ip of ") for item in drift):
        current = machine_ips(machine)
        named = set(i["name"] for i in spec.interfaces)
        ips = [ip for name, found in current.items() if name not in named for ip in found]
        for interface in spec.interfaces:
            ips.extend([interface["ip"]] if interface["ip"] else current.get(interface["name"], []))
        after["ip_addresses"] = sorted(set(ips))
    return after


# --------------------------------------------------------------------------------------------
# The task


class VmTask(object):
    """One run of the module: read, decide, write (unless check mode), wait, report."""

    def __init__(self, module, spec):
        self.module = module
        self.spec = spec
        self.client = module.client()
        self.check = module.check_mode
        self.log = module.log
        self.changed = False
        self.actions = []
        self.placement = None
        self.drift = []
        self.extra = {}
        self.before = None
        self.after_state = None
        self.allocated = False
        self.finishing = False  # adopting what an earlier run of this task left untagged
        self.wanted_after = None  # --diff "after" of a failed run that knows what was wanted (drift)
        self.existing_zones = {}
        self.pool_id = None
        self.domain_id = None
        self.reservations = []
        self.subnet_ids = {}
        self.deadline = time.monotonic() + spec.wait_timeout

    # -- helpers ---------------------------------------------------------------------------

    def act(self, text):
        """Record a change (done, or to be done in check mode)."""
        self.changed = True
        self.actions.append(("would " + text) if self.check else text)
        self.log(("check mode: would " if self.check else "") + text)

    def remaining(self):
        """Seconds left of wait_timeout (at least one, so a last poll still happens)."""
        return max(1.0, self.deadline - time.monotonic())

    def fail(self, msg, **extra):
        """Fail the task with everything known so far."""
        result = self.result(None, failed=True)
        result.update(extra)
        self.module.fail_json(msg, **result)

    def refresh(self, machine):
        """Re-read a machine."""
        return self.client.get_machine(machine["system_id"])

    def release(self, machine, why):
        """``op=release`` with a comment; the machine as MAAS answers it (re-read if the answer had none)."""
        return self.client.release(machine["system_id"], {"comment": "lxdcp.maas %s" % why}) or self.refresh(machine)

    def wait_for(self, machine, targets, what=None):
        """Wait (if ``wait``) until the machine is in one of ``targets``; return it."""
        if not self.spec.wait or machine.get("status_name") in targets:
            return machine
        return self.client.wait_for_machine(machine["system_id"], targets, self.remaining(),
                                            what=what or "%s to become %s" % (self.spec.hostname, " or ".join(sorted(targets))))

    def result(self, machine, failed=False):
        """The module result (``failed``: for fail_json, when the machine is not known any more)."""
        view = machine_view(machine)
        result = dict(
            changed=self.changed,
            machine=view,
            provider_id=view["provider_id"] if view else None,
            actions=self.actions,
            drift=self.drift,
        )
        if self.placement is not None:
            result["placement"] = self.placement
        result.update(self.extra)
        if self.module.diff_mode:
            if machine is not None:
                after = diff_view(machine, self.after_state)
            elif failed:
                # A failed task changed nothing it knows of: "after" is "before", or what was wanted (drift).
                after = self.wanted_after if self.wanted_after is not None else (self.before or {})
            else:
                after = self.predicted_after()
            result["diff"] = dict(before=self.before or {}, after=after)
        return result

    def predicted_after(self):
        """What --diff shows as "after" for a machine that does not exist (yet, or any more)."""
        if self.spec.state == "absent" or self.after_state is None:
            return {}
        chosen = (self.placement or {}).get("placements") or [{}]
        return dict(
            hostname=self.spec.hostname,
            status=self.after_state,
            cores=self.spec.cores or DEFAULT_CORES,
            memory=self.spec.memory or DEFAULT_MEMORY,
            disks=[d["size"] for d in self.spec.compose_disks()],
            vm_host=chosen[0].get("host"),
            zone=chosen[0].get("zone"),
            pool=self.spec.pool,
            tags=sorted(self.spec.wanted_tags),
            ip_addresses=sorted(i["ip"] for i in self.spec.interfaces if i["ip"]),
        )

    # -- entry -----------------------------------------------------------------------------

    def run(self):
        """Bring the machine to the wanted state and return the final machine (or None)."""
        spec = self.spec
        machine = self.client.find_machine(spec.hostname)
        self.before = diff_view(machine)
        if machine is None:
            self.log("no machine named %s" % spec.hostname)
        else:
            self.log("found %s (%s): %s%s" % (spec.hostname, machine["system_id"], machine.get("status_name"),
                                              ", VM on %s" % machine["pod"].get("name") if is_vm(machine) else ", bare metal"))
        if spec.state == "absent":
            return self.absent(machine)
        if machine is not None:
            self.check_kind(machine)
            if not self.owned(machine):
                if self.left_untagged(machine):
                    self.finishing = True
                    self.module.warn(
                        "%s (%s) lacks the ownership tags, but it is what a run of this task leaves when it fails between "
                        "%s and tagging; adopting it" % (spec.hostname, machine["system_id"],
                                                         "compose" if spec.lxd else "allocation"))
                elif not self.adoptable(machine):
                    self.refuse(machine)
            self.drift = find_drift(machine, spec)
            if self.drift:
                machine = self.handle_drift(machine)
        if machine is None:
            if spec.lxd:
                machine = self.create_vm()
            elif spec.state == "released":
                self.module.warn("no machine named %s: nothing to release" % spec.hostname)
                return None
            else:
                machine = self.allocate_bare_metal()
            if machine is None:  # check mode
                return None
        elif self.owned(machine) or self.finishing:
            machine = self.ensure_tags(machine)
        else:
            machine = self.adopt(machine)
        return self.converge(machine)

    # -- ownership -------------------------------------------------------------------------

    def owned(self, machine):
        """Whether the machine carries the ownership tags of this task."""
        tags = machine.get("tag_names") or []
        return all(tag in tags for tag in self.spec.owner_tags)

    def refuse(self, machine, hint=None):
        """Fail: the machine exists but was not created by lxdcp.maas for this cluster."""
        tags = machine.get("tag_names") or []
        missing = [tag for tag in self.spec.owner_tags if tag not in tags]
        clusters = [t[len(CLUSTER_TAG_PREFIX):] for t in tags if t.startswith(CLUSTER_TAG_PREFIX)]
        detail = (" it belongs to cluster %s" % ", ".join(clusters)) if clusters and self.spec.cluster else ""
        self.fail(
            "Refusing to manage %s (%s): it lacks the ownership tag(s) %s, so it was not created by lxdcp.maas%s%s. %s"
            % (self.spec.hostname, machine["system_id"], ", ".join(missing),
               " for cluster %s" % self.spec.cluster if self.spec.cluster else "", ";" + detail if detail else "",
               hint or "Choose another hostname, or tag the machine in MAAS if it really is this task's."),
            machine=machine_view(machine),
        )

    def half_tagged(self, machine):
        """Whether the machine carries no lxdcp tag, or only this task's cluster tag (tagging was interrupted)."""
        return all(tag in self.spec.owner_tags[1:] for tag in lxdcp_tags(machine))

    def left_untagged(self, machine):
        """Whether ``machine`` is what a run of this task leaves when it dies between creating it and tagging it.

        An LXD VM: composed (``pod`` set), no owner, New, Commissioning or Ready. A bare-metal machine:
        Allocated to the API user with this task's ``agent_name``. Both ``half_tagged``.
        """
        if not self.half_tagged(machine):
            return False
        if self.spec.lxd:
            return is_vm(machine) and not machine.get("owner") and machine.get("status_name") in JUST_COMPOSED
        if is_vm(machine) or machine.get("status_name") != ALLOCATED:
            return False
        return machine["system_id"] in [m["system_id"] for m in self.untagged_allocations()]

    def untagged_allocations(self):
        """Bare-metal machines Allocated to the API user with this task's ``agent_name`` and no lxdcp tag.

        ``op=allocate`` is sent with ``agent_name`` ``lxdcp:<hostname>``; MAAS keeps it until release.
        """
        found = [m for m in self.client.list_machines(agent_name=[self.agent_name], status=["allocated"])
                 if not is_vm(m) and self.half_tagged(m)]
        if not found:
            return []
        user = self.client.username()
        return [m for m in found if m.get("owner") == user]

    @property
    def agent_name(self):
        """The ``agent_name`` this task allocates bare-metal machines with."""
        return BARE_METAL_AGENT + self.spec.hostname

    def check_kind(self, machine):
        """Fail when the machine is of the other provisioning mode."""
        if self.spec.lxd and not is_vm(machine):
            self.fail("%s is a bare-metal machine, not an LXD VM; use provisioning_mode: bare-metal for it" % self.spec.hostname,
                      machine=machine_view(machine))
        if not self.spec.lxd and is_vm(machine):
            self.fail("%s is a VM on VM host %s; use provisioning_mode: lxd for it"
                      % (self.spec.hostname, machine["pod"].get("name")), machine=machine_view(machine))

    def adoptable(self, machine):
        """A free, Ready bare-metal machine named as asked, of no other cluster, can be taken (allocated and tagged)."""
        return (not self.spec.lxd and self.spec.state in ("present", "deployed")
                and machine.get("status_name") == READY and not machine.get("owner") and self.half_tagged(machine))

    def adopt(self, machine):
        """Allocate a free Ready bare-metal machine by system id and tag it (released again if tagging fails)."""
        self.allocated = True
        self.act("allocate %s (%s, free and Ready)" % (self.spec.hostname, machine["system_id"]))
        if self.check:
            return self.ensure_tags(machine)
        machine = self.client.allocate(dict(system_id=machine["system_id"], agent_name=self.agent_name,
                                            comment="lxdcp.maas %s" % self.spec.hostname),
                                       verify=self.allocated_verifier(machine["system_id"]))
        with self.undo_on_failure(machine["system_id"]):
            return self.ensure_tags(machine)

    @contextlib.contextmanager
    def undo_on_failure(self, system_id):
        """Roll back this run's compose or allocation of ``system_id`` when a request inside the block fails.

        Until it is tagged, a machine this run created is ours only by this run's memory: left as it is,
        every later run would refuse it. So it is deleted (VM) or released (bare metal), best effort,
        and the task fails saying what happened.
        """
        try:
            yield
        except MaasError as exc:
            self.roll_back(system_id, exc)

    def roll_back(self, system_id, error):
        """Delete the VM (or release the machine) this run created but could not tag, then fail."""
        spec = self.spec
        done, undo = ("composed", "deleted") if spec.lxd else ("allocated", "released")
        what = "%s %s (%s) but could not tag it: %s" % (done.capitalize(), spec.hostname, system_id, error)
        self.log("%s; rolling back" % what)
        try:
            # Waiting (with wait: true) lets the next run start from a settled MAAS: no machine, or a free one.
            if spec.lxd:
                self.act("delete %s (%s) again: composed by this run, not tagged" % (spec.hostname, system_id))
                self.client.delete_machine(system_id)
                if spec.wait:
                    self.client.wait_for_machine_gone(system_id, self.remaining(), hostname=spec.hostname)
            else:
                self.act("release %s (%s) again: allocated by this run, not tagged" % (spec.hostname, system_id))
                self.client.release(system_id, {"comment": "lxdcp.maas rollback: tagging failed"})
                if spec.wait:
                    self.client.wait_for_machine(system_id, [READY], self.remaining())
        except MaasError as undo_error:
            self.fail("%s. Rolling back failed too (%s), so machine %s is still in MAAS without ownership tags: %s it "
                      "in MAAS, or run the task again with state: present, which adopts it." % (
                          what, undo_error, system_id, "delete" if spec.lxd else "release"),
                      error=error.to_dict())
        self.fail("%s. It was %s again; run the task again." % (what, undo),
                  error=error.to_dict())

    # -- drift -----------------------------------------------------------------------------

    def handle_drift(self, machine):
        """Fail on drift, or delete the VM for recreation (returns None then)."""
        text = "; ".join("%s is %s, wanted %s" % (d["field"], d["current"], d["wanted"]) for d in self.drift)
        if not self.spec.recreate:
            self.wanted_after = wanted_view(machine, self.drift, self.spec)
            self.fail("%s differs from the task: %s. Set recreate: true to delete and compose it again "
                      "(its data is lost), or change the task to match." % (self.spec.hostname, text),
                      machine=machine_view(machine))
        self.log("drift: %s; recreating" % text)
        self.delete_vm(machine, reason="recreate (%s)" % text)
        return None

    # -- composing -------------------------------------------------------------------------

    def create_vm(self):
        """Choose a host, compose, tag, and return the new machine (None in check mode)."""
        spec = self.spec
        hosts, excluded = self.candidate_hosts()
        attempts = []
        while True:
            chosen, storage_pool, plan_view = self.choose(hosts, excluded, attempts)
            self.placement = dict(plan_view, attempts=attempts)
            self.adopt_reservations()
            self.act("compose %s on %s (%s)" % (spec.hostname, chosen["name"], spec.summary()))
            if self.check:
                self.after_state = self.final_state()
                for tag in spec.wanted_tags:
                    self.act("tag %s %s" % (spec.hostname, tag))
                self.predict_after_compose()
                return None
            try:
                answer = self.client.compose(chosen["id"], self.compose_data(chosen, storage_pool))
            except MaasError as exc:
                if not self.host_specific(exc):
                    raise
                self.log("compose on %s failed: %s" % (chosen["name"], exc))
                answer = self.client.find_machine(spec.hostname)
                if answer is None:
                    attempts.append(dict(host=chosen["name"], ok=False, error=str(exc)))
                    excluded[chosen["name"]] = "compose failed: %s" % exc
                    continue
                self.log("MAAS reported a failure but created %s (%s); using it" % (spec.hostname, answer["system_id"]))
            attempts.append(dict(host=chosen["name"], ok=True, error=None))
            self.log("composed %s as %s on %s" % (spec.hostname, answer["system_id"], chosen["name"]))
            with self.undo_on_failure(answer["system_id"]):
                return self.ensure_tags(self.client.get_machine(answer["system_id"]))

    @staticmethod
    def host_specific(exc):
        """Whether a compose failure is about the host (try the next one) rather than the request.

        MAAS answers 503 when the host refuses or is unreachable, 500 when its storage pool is full
        (``PodInvalidResources``) and 400 on cores/memory/storage beyond the host's limits. A spent
        retry budget is not host specific: MAAS itself is struggling.
        """
        if isinstance(exc, MaasRetriesExhausted):
            return False
        if isinstance(exc, MaasUnavailable) or exc.status == 500:
            return True
        if isinstance(exc, MaasValidationError):
            return bool(set(exc.fields) & {"cores", "memory", "storage", "interfaces", "cpu_speed", "architecture"}) or (
                not exc.fields and "pod" in (exc.body or "").lower())
        return False

    def compose_data(self, host, storage_pool):
        """The ``op=compose`` form for ``host``; disks without a pool go to ``storage_pool`` (else the host's default)."""
        spec = self.spec
        storage = []
        for index, disk in enumerate(spec.compose_disks()):
            label = "root" if index == 0 else "disk%d" % index
            pool = disk["pool"] or storage_pool or ""
            storage.append("%s:%s(%s)" % (label, maas_gb(disk["size"]), pool) if pool else "%s:%s" % (label, maas_gb(disk["size"])))
        data = dict(
            hostname=spec.hostname,
            cores=spec.cores or DEFAULT_CORES,
            memory=spec.memory or DEFAULT_MEMORY,
            storage=",".join(storage),
            zone=(host.get("zone") or {}).get("id"),
            pool=self.pool_id if spec.pool else (host.get("pool") or {}).get("id"),
        )
        if spec.domain:
            data["domain"] = self.domain_id
        if spec.interfaces:
            parts = []
            for interface in spec.interfaces:
                if interface["ip"]:
                    parts.append("%s:ip=%s" % (interface["name"], interface["ip"]))
                else:
                    parts.append("%s:subnet_cidr=%s" % (interface["name"], interface["subnet"]))
            data["interfaces"] = ";".join(parts)
        return data

    def candidate_hosts(self):
        """LXD VM hosts in MAAS, with placement hosts and the names excluded up front (with reasons)."""
        spec = self.spec
        client = self.client
        self.check_places()
        vm_hosts = [h for h in client.list_vm_hosts() if h.get("type") == "lxd"]
        if not vm_hosts:
            self.fail("MAAS has no LXD VM host; add one (MAAS UI > KVM > Add LXD host) or use provisioning_mode: bare-metal")
        excluded = {}
        if spec.vm_host:
            named = [h for h in vm_hosts if spec.vm_host in (h["name"], str(h["id"]))]
            if not named:
                self.fail("no LXD VM host named %r (LXD VM hosts: %s)" % (spec.vm_host, ", ".join(sorted(h["name"] for h in vm_hosts))))
            self.check_named_host(named[0])
            for host in vm_hosts:
                if host is not named[0]:
                    excluded[host["name"]] = "not the vm_host asked for"
        if spec.project:
            for host in vm_hosts:
                if host["name"] in excluded:
                    continue
                project = vm_host_project(client, host)
                if project != spec.project:
                    excluded[host["name"]] = "LXD project is %r, not %r" % (project, spec.project)
            if all(h["name"] in excluded for h in vm_hosts):
                reasons = "; ".join("%s: %s" % item for item in sorted(excluded.items()))
                self.fail("no LXD VM host%s uses LXD project %r: %s. MAAS has no per-VM project; configure the "
                          "project on the VM host." % (" named %s" % spec.vm_host if spec.vm_host else "", spec.project, reasons))
        machines = backing_machines(client, vm_hosts)
        replicas, existing_zones = self.cluster_replicas(vm_hosts)
        hosts = []
        for vm_host in vm_hosts:
            health = vm_host_health(vm_host, machines.get((vm_host.get("host") or {}).get("system_id")))
            host = placement_host(vm_host, health, replicas.get(vm_host["id"], 0))
            hosts.append((vm_host, host))
        self.existing_zones = existing_zones
        return hosts, excluded

    def check_named_host(self, vm_host):
        """Fail when vm_host contradicts zone, pool or host_tags (conflicting options)."""
        spec = self.spec
        zone = (vm_host.get("zone") or {}).get("name")
        pool = (vm_host.get("pool") or {}).get("name")
        problems = []
        if spec.zones and zone not in spec.zones:
            problems.append("it is in zone %s, not in %s" % (zone, ", ".join(spec.zones)))
        if spec.pool and pool != spec.pool:
            problems.append("it is in pool %s, not %s" % (pool, spec.pool))
        missing = [t for t in spec.host_tags if t not in (vm_host.get("tags") or [])]
        if missing:
            problems.append("it lacks tag(s) %s" % ", ".join(missing))
        if problems:
            self.fail("vm_host %s conflicts with the other options: %s. Drop vm_host to let the placement choose, "
                      "or fix zone/pool/host_tags." % (vm_host["name"], "; ".join(problems)))

    def cluster_replicas(self, vm_hosts):
        """Other machines of this cluster and of this task's kind (VMs or bare metal): per VM host id, per zone."""
        if not self.spec.cluster:
            return {}, {}
        members = [m for m in cluster_members(self.client, self.spec.cluster) if m.get("hostname") != self.spec.hostname]
        replicas, zones = replica_counts(members, set(h["id"] for h in vm_hosts), vms=self.spec.lxd)
        self.log("cluster %s: %d other %s" % (self.spec.cluster, sum(replicas.values()) + sum(zones.values()),
                                              "VM(s)" if self.spec.lxd else "bare-metal machine(s)"))
        return replicas, zones

    def request(self):
        """The placement request for this VM."""
        spec = self.spec
        disks = spec.compose_disks()
        root_pool = disks[0]["pool"]
        disk = sum(d["size"] for d in disks if d["pool"] == root_pool)
        return Request(count=1, cores=spec.cores or DEFAULT_CORES, memory=spec.memory or DEFAULT_MEMORY, disk=disk,
                       storage_pool=root_pool, zones=spec.zones, pool=spec.pool, tags=spec.host_tags,
                       strategy=spec.strategy, existing_zones=self.existing_zones, names=[spec.hostname])

    def choose(self, hosts, excluded, attempts):
        """Plan one VM over the hosts not excluded: ``(vm_host, storage pool, plan view)``; fail clearly when none fits.

        The storage pool is the one placement checked for room (:func:`storage_pool_for`).
        """
        usable = [host for vm_host, host in hosts if vm_host["name"] not in excluded]
        skipped = [dict(host=name, code="excluded", reason=reason) for name, reason in sorted(excluded.items())]
        request = self.request()
        try:
            result = plan(usable, request)
        except PlacementError as exc:
            tried = ""
            if attempts:
                tried = " Compose attempts: %s." % "; ".join("%s: %s" % (a["host"], a["error"]) for a in attempts)
            target = " on vm_host %s" % self.spec.vm_host if self.spec.vm_host else ""
            self.placement = dict(error_dict(exc, VM), excluded=skipped, attempts=attempts)
            self.fail("No LXD VM host can take %s%s: %s.%s" % (self.spec.hostname, target, error_message(exc, VM), tried),
                      placement=self.placement)
        chosen = result.placements[0]
        for line in plan_lines(result, VM):
            self.log("placement: %s" % line)
        vm_host, host = next((vm, host) for vm, host in hosts if host.name == chosen.host)
        view = plan_dict(result, VM)
        view["excluded"] = skipped
        for warning in view["warnings"]:
            self.module.warn("placement: %s" % warning)
        return vm_host, storage_pool_for(host, request), view

    def check_places(self):
        """Fail before any write on zone, pool or domain names MAAS does not know; remember their ids."""
        spec = self.spec
        problem, self.pool_id = check_places(self.client, spec.zones, spec.pool)
        if problem:
            self.fail(problem)
        if spec.domain:
            domains = dict((d["name"], d["id"]) for d in self.client.list_domains())
            if spec.domain not in domains:
                self.fail("unknown domain %r (MAAS has: %s)" % (spec.domain, ", ".join(sorted(domains))))
            self.domain_id = domains[spec.domain]
        if spec.interfaces:
            self.check_ips()

    def check_ips(self, system_id=None):
        """Validate the static IPs against MAAS with the shared validator; remember reservations to adopt.

        An address the API user reserved for this hostname (``maas_static_ip``) counts as ours: MAAS
        treats a reservation as "in use", so it is released right before the VM takes the address.
        """
        subnets = None
        for interface in self.spec.interfaces:
            if interface["subnet"] and not interface["ip"]:
                subnets = subnets if subnets is not None else self.client.list_subnets()
                if not any(s.get("cidr") == interface["subnet"] for s in subnets):
                    self.fail("no MAAS subnet %s for interface %s (subnets: %s)" % (
                        interface["subnet"], interface["name"], ", ".join(sorted(s["cidr"] for s in subnets))))
        entries = self.spec.address_entries(system_id=system_id)
        if not entries:
            return
        result = ipaddr.check_with_maas(self.client, entries, ipaddr.RESERVE, what="interfaces", subnets=subnets)
        for warning in result.warnings:
            self.module.warn(warning)
        if not result.ok:
            self.fail(result.message(), addresses=result.as_dict())
        for address in result.addresses:
            holder = address.get("holder") or {}
            if address["status"] == ipaddr.OURS and holder.get("alloc_type") == ipaddr.USER_RESERVED and not holder.get("system_id"):
                self.reservations.append(address["address"])
            self.subnet_ids[address["address"]] = (address.get("subnet") or {}).get("id")

    def adopt_reservations(self):
        """Release the API user's reservations of this VM's addresses so that MAAS can give them to it."""
        for ip in self.reservations:
            self.act("release the reservation of %s so that %s takes it" % (ip, self.spec.hostname))
            if not self.check:
                self.client.release_ip(ip)
        self.reservations = []

    def predict_after_compose(self):
        """Check mode: the steps that would follow the compose."""
        spec = self.spec
        for interface in spec.interfaces:
            if interface["ip"]:
                self.act("make %s %s a static address" % (interface["name"], interface["ip"]))
        if spec.state == "deployed":
            self.act("deploy %s%s" % (spec.hostname, " " + spec.params["distro_series"] if spec.params["distro_series"] else ""))

    def final_state(self):
        """Status name the task leads to."""
        if self.spec.state == "deployed":
            return DEPLOYED
        if self.spec.state == "present" and not self.spec.lxd:
            return ALLOCATED
        return READY

    # -- bare metal ------------------------------------------------------------------------

    def allocated_verifier(self, system_id=None):
        """A verify callable for allocate: the machine this task's earlier attempt allocated, if any."""

        def verify():
            found = self.client.list_machines(agent_name=[self.agent_name], status=["allocated"])
            if system_id is not None:
                found = [m for m in found if m["system_id"] == system_id]
            return found[0] if found else None

        return verify

    def bare_metal_constraints(self, zone):
        """``op=allocate`` constraints for one zone (or any)."""
        spec = self.spec
        data = dict(agent_name=self.agent_name, comment="lxdcp.maas %s" % spec.hostname)
        if spec.cores:
            data["cpu_count"] = spec.cores
        if spec.memory:
            data["mem"] = spec.memory
        if zone:
            data["zone"] = zone
        if spec.pool:
            data["pool"] = spec.pool
        if spec.host_tags:
            data["tags"] = list(spec.host_tags)
        if spec.disks:
            data["storage"] = ",".join("%s:%s" % ("root" if i == 0 else "disk%d" % i, maas_gb(d["size"]))
                                       for i, d in enumerate(spec.disks))
        return data

    def allocate_bare_metal(self):
        """Allocate a machine by constraints, zone by zone (fewest replicas of the cluster first), name and tag it.

        A machine an earlier run allocated for this task but could not name or tag is taken instead.
        """
        spec = self.spec
        self.check_places()
        earlier = self.untagged_allocations()
        if earlier:
            machine = earlier[0]
            self.module.warn("%s (%s) was allocated for %s by an earlier run of this task that could not name or tag it; "
                             "adopting it" % (machine["hostname"], machine["system_id"], spec.hostname))
            return self.name_and_tag(machine)
        zones = [None]
        if spec.zones:
            counts = self.cluster_replicas([])[1]
            zones = sorted(spec.zones, key=lambda z: (counts.get(z, 0), spec.zones.index(z)))
        refusals = []
        for zone in zones:
            constraints = self.bare_metal_constraints(zone)
            if self.check:
                candidate = self.predict_allocation(constraints)
                if candidate is None:
                    refusals.append("%s: no Ready machine matches" % (zone or "any zone"))
                    continue
                self.act("allocate %s (%s) and name it %s" % (candidate["hostname"], candidate["system_id"], spec.hostname))
                for tag in spec.wanted_tags:
                    self.act("tag %s %s" % (spec.hostname, tag))
                if spec.state == "deployed":
                    self.act("deploy %s" % spec.hostname)
                self.after_state = self.final_state()
                return None
            try:
                machine = self.client.allocate(constraints, verify=self.allocated_verifier())
            except MaasConflict as exc:
                refusals.append("%s: %s" % (zone or "any zone", exc))
                continue
            self.act("allocate %s (%s) in %s" % (machine["hostname"], machine["system_id"], (machine.get("zone") or {}).get("name")))
            return self.name_and_tag(machine)
        self.fail("No bare-metal machine can be allocated for %s: %s" % (spec.hostname, "; ".join(refusals)))
        return None

    def name_and_tag(self, machine):
        """Rename an allocated machine to the hostname and tag it; it is released again when either fails."""
        spec = self.spec
        with self.undo_on_failure(machine["system_id"]):
            if machine["hostname"] != spec.hostname:
                self.act("rename %s to %s" % (machine["hostname"], spec.hostname))
                if not self.check:
                    machine = self.client.update_machine(machine["system_id"], {"hostname": spec.hostname})
            return self.ensure_tags(machine)

    def predict_allocation(self, constraints):
        """Check mode: the machine MAAS would allocate (its cheapest Ready match), read with filters only."""
        filters = dict(status=["ready"])
        for key in ("cpu_count", "mem", "zone", "pool", "tags"):
            if key in constraints:
                filters[key] = constraints[key]
        ready = [m for m in self.client.list_machines(**filters) if not m.get("pod")]
        ready.sort(key=lambda m: ((m.get("cpu_count") or 0) + (m.get("memory") or 0) / 1024.0, m["system_id"]))
        return ready[0] if ready else None

    # -- converging an existing machine ----------------------------------------------------

    def ensure_tags(self, machine):
        """Add the ownership and user tags the machine lacks (creating missing tags)."""
        tags = machine.get("tag_names") or []
        missing = [tag for tag in self.spec.wanted_tags if tag not in tags]
        for tag in missing:
            self.act("tag %s %s" % (self.spec.hostname, tag))
            if self.check:
                continue
            if self.client.ensure_tag(tag, comment="lxdcp.maas ownership" if tag in self.spec.owner_tags else ""):
                self.log("created tag %s" % tag)
            self.client.tag_machines(tag, add=[machine["system_id"]])
        if missing and not self.check:
            machine = self.refresh(machine)
        return machine

    def converge(self, machine):
        """Drive an existing (or just created) machine to the wanted state."""
        spec = self.spec
        status = machine.get("status_name")
        if status in FAILED_STATES and not (spec.state in ("released", "deployed") and status in RELEASABLE):
            self.fail("%s is in state %r%s. Fix it in MAAS, or delete it (state: absent) and run again."
                      % (spec.hostname, status, machine_reason(machine)), machine=machine_view(machine))
        if status in ON_THE_WAY_TO_READY and not self.check:
            machine = self.wait_for(machine, [READY] + ([DEPLOYED, ALLOCATED] if status == RELEASING else []))
            status = machine.get("status_name")
        machine = self.ensure_static_ips(machine)
        if spec.state == "present":
            self.after_state = status
            if not spec.lxd and status == READY and not self.allocated:
                machine = self.adopt(machine)
                self.after_state = ALLOCATED
        elif spec.state == "released":
            if status in RELEASABLE:
                self.act("release %s (%s)" % (spec.hostname, status))
                if not self.check:
                    machine = self.wait_for(self.release(machine, "state=released"), [READY])
            self.after_state = READY
        elif spec.state == "deployed":
            machine = self.deploy(machine)
        return machine

    def deploy(self, machine):
        """Deploy unless deployed (a failed deployment is released and deployed again)."""
        spec = self.spec
        status = machine.get("status_name")
        self.after_state = DEPLOYED
        if status == DEPLOYED:
            series = spec.params["distro_series"]
            if series and series.split("/")[-1] not in (machine.get("distro_series"), ""):
                self.module.warn("%s is deployed with %s, the task asks for %s; release it (state: released) and deploy "
                                 "again to change it" % (spec.hostname, machine.get("distro_series"), series))
            return machine
        if status == DEPLOYING:
            return machine if self.check else self.wait_for(machine, [DEPLOYED])
        if status not in (READY, ALLOCATED, "Failed deployment") and not self.check:
            self.module.warn("%s is %s, not Ready: it is deployed on a later run (or use wait: true)"
                             % (spec.hostname, status))
            return machine
        if status == "Failed deployment":
            self.act("release %s after its failed deployment%s" % (spec.hostname, machine_reason(machine)))
            if not self.check:
                self.client.release(machine["system_id"], {"comment": "lxdcp.maas redeploy"})
                machine = self.client.wait_for_machine(machine["system_id"], [READY], self.remaining())
        self.act("deploy %s%s" % (spec.hostname, " " + spec.params["distro_series"] if spec.params["distro_series"] else ""))
        if self.check:
            return machine
        machine = self.client.deploy(machine["system_id"], spec.deploy_data())
        return self.wait_for(machine, [DEPLOYED])

    def ensure_static_ips(self, machine):
        """Turn each interface IP into a STATIC (sticky) link; only possible while the machine is linkable."""
        wanted = [i for i in self.spec.interfaces if i["ip"]]
        if not wanted:
            return machine
        if machine.get("status_name") not in LINKABLE:
            pending = [i for i in wanted if not self.has_static(machine, i)]
            if pending and not self.check:
                self.module.warn("%s is %s: static IP(s) %s are set once MAAS has commissioned it (run again)"
                                 % (self.spec.hostname, machine.get("status_name"), ", ".join(i["ip"] for i in pending)))
            return machine
        pending = [i for i in wanted if not self.has_static(machine, i)]
        if not pending:
            return machine
        held = set(ip for ips in machine_ips(machine).values() for ip in ips)
        if any(i["ip"] not in held for i in pending):
            self.check_ips(system_id=machine["system_id"])
            self.adopt_reservations()
        changed = False
        interfaces = dict((i.get("name"), i) for i in machine.get("interface_set") or [])
        for item in pending:
            interface = interfaces.get(item["name"])
            if interface is None:
                self.fail("%s has no interface %s (it has %s)" % (self.spec.hostname, item["name"], ", ".join(sorted(interfaces))))
            links = interface_links(interface)
            subnet_id = next((link["subnet_id"] for link in links if link["ip_address"] == item["ip"]), None)
            if subnet_id is None:
                subnet_id = self.subnet_ids.get(item["ip"])
            self.act("make %s %s a static address" % (item["name"], item["ip"]))
            if self.check:
                continue
            for link in links:
                if link["mode"] != "link_up":
                    self.client.unlink_subnet(machine["system_id"], interface["id"], link["id"])
            self.client.link_subnet(machine["system_id"], interface["id"],
                                    dict(mode="STATIC", subnet=subnet_id, ip_address=item["ip"]))
            changed = True
        return self.refresh(machine) if changed else machine

    @staticmethod
    def has_static(machine, item):
        """Whether the interface of ``item`` already has a STATIC link with its IP."""
        for interface in machine.get("interface_set") or []:
            if interface.get("name") == item["name"]:
                return any(link["mode"] == "static" and link["ip_address"] == item["ip"] for link in interface_links(interface))
        return False

    # -- removal ---------------------------------------------------------------------------

    def absent(self, machine):
        """Remove the machine (VM: delete; bare metal: release and untag)."""
        spec = self.spec
        if machine is None:
            if spec.lxd:
                self.extra.update(released_ips=[], capacity_restored=None)
            return None
        if not self.owned(machine):
            if self.released_bare_metal(machine):
                return self.finish_bare_metal_absent(machine)
            hint = None
            if self.left_untagged(machine):
                hint = ("It looks like a %s a run of this task %s but could not tag; run the task with state: present first "
                        "to adopt it, then with state: absent." % (("VM", "composed") if spec.lxd else ("machine", "allocated")))
            self.refuse(machine, hint)
        self.check_kind(machine)
        if spec.lxd:
            self.delete_vm(machine, reason="state=absent")
            return None
        return self.release_bare_metal(machine)

    def released_bare_metal(self, machine):
        """Whether a bare-metal machine without our tags is free: Ready, owned by nobody, no other cluster's tag.

        That is what ``state: absent`` leaves (released and untagged); an interrupted ``absent`` can
        leave the cluster tag alone, which is removed on the next run.
        """
        if self.spec.lxd or is_vm(machine) or machine.get("status_name") != READY or machine.get("owner"):
            return False
        return self.half_tagged(machine)

    def finish_bare_metal_absent(self, machine):
        """``absent`` for a free bare-metal machine: remove a cluster tag left behind, else nothing to do."""
        if lxdcp_tags(machine):
            return self.release_bare_metal(machine)
        self.log("%s (%s) is Ready, owned by nobody and carries no lxdcp tag: absent already" % (
            self.spec.hostname, machine["system_id"]))
        if self.params_delete():
            self.module.warn("%s (%s) carries no ownership tag, so its machine record is not deleted (delete_bare_metal): "
                             "it is not known to be this task's" % (self.spec.hostname, machine["system_id"]))
        return machine

    def delete_vm(self, machine, reason):
        """Release, delete, check the addresses are free and the host's capacity came back."""
        system_id = machine["system_id"]
        ips = sorted(ip for ips in machine_ips(machine).values() for ip in ips)
        pod = machine.get("pod") or {}
        host_before = self.vm_host_before_delete(pod)
        status = machine.get("status_name")
        if status in RELEASABLE:
            self.act("release %s (%s)" % (self.spec.hostname, status))
            if not self.check:
                self.wait_for(self.release(machine, reason), [READY], what="%s to be released" % self.spec.hostname)
        self.act("delete %s (%s) from VM host %s, %s" % (self.spec.hostname, system_id, pod.get("name"), reason))
        self.extra.update(released_ips=[], capacity_restored=None)
        if self.check:
            return
        self.client.delete_machine(system_id)
        if not self.spec.wait:
            return
        self.client.wait_for_machine_gone(system_id, self.remaining(), hostname=self.spec.hostname)
        self.extra["released_ips"] = self.free_addresses(system_id, ips)
        if host_before is not None:
            self.extra["capacity_restored"] = self.capacity_back(machine, host_before)

    def vm_host_before_delete(self, pod):
        """The VM host of a VM about to be deleted, to check its capacity afterwards; None when MAAS has none any more.

        A MAAS without VM hosts (after 3.8) answers 410 on /vm-hosts/ but still lists and deletes the
        machines composed before: the capacity check is skipped then, not the deletion.
        """
        if pod.get("id") is None:
            return None
        try:
            return self.client.get_vm_host(pod["id"])
        except MaasGone:
            self.module.warn("MAAS answers 410 Gone for VM host %s (VM hosts were removed after MAAS 3.8): %s is deleted "
                             "without checking that the host gets its capacity back" % (pod.get("name") or pod["id"],
                                                                                        self.spec.hostname))
            return None

    def free_addresses(self, system_id, ips):
        """Release the API user's reservations of the deleted VM's addresses that nothing uses; return them.

        MAAS deletes a machine's own addresses with its interfaces; what can stay behind is a
        reservation of the API user (USER_RESERVED, for example one a DNS record created). Only
        those are released (``GET /ipaddresses/`` without ``all`` lists exactly them), never an
        address of another user or one an interface holds by now.
        """
        released = []
        for ip in ips:
            for address in self.client.ip_addresses(ip=ip):
                holders = [i.get("system_id") for i in address.get("interface_set") or []]
                if holders and any(h != system_id for h in holders):
                    continue  # in use again
                self.act("release %s left behind by %s (%s)" % (ip, self.spec.hostname, address.get("alloc_type_name")))
                self.client.release_ip(ip)
                released.append(ip)
        return released

    def capacity_back(self, machine, host_before):
        """Whether the VM host's used cores and memory dropped by the VM's size (polled briefly)."""
        cores = machine.get("cpu_count") or 0
        memory = machine.get("memory") or 0
        used = host_before.get("used") or {}
        want_cores = (used.get("cores") or 0) - cores
        want_memory = (used.get("memory") or 0) - memory

        def probe():
            host = self.client.get_vm_host(host_before["id"])
            now = host.get("used") or {}
            done = (now.get("cores") or 0) <= want_cores and (now.get("memory") or 0) <= want_memory
            return done, host, "used %s cores, %s MiB" % (now.get("cores"), now.get("memory"))

        try:
            self.client.poll(probe, min(self.remaining(), 60), "VM host %s to free %d cores and %d MiB"
                             % (host_before.get("name"), cores, memory))
        except MaasError as exc:
            self.module.warn("VM host %s did not get its capacity back: %s" % (host_before.get("name"), exc))
            return False
        return True

    def release_bare_metal(self, machine):
        """Release a bare-metal machine, remove the ownership tags, and delete it only when asked."""
        spec = self.spec
        status = machine.get("status_name")
        if status in RELEASABLE:
            self.act("release %s (%s)" % (spec.hostname, status))
            if not self.check:
                machine = self.wait_for(self.release(machine, "state=absent"), [READY])
        for tag in spec.owner_tags:
            if tag in (machine.get("tag_names") or []):
                self.act("untag %s %s" % (spec.hostname, tag))
                if not self.check:
                    self.client.tag_machines(tag, remove=[machine["system_id"]])
        if self.params_delete():
            self.act("delete machine record %s (%s)" % (spec.hostname, machine["system_id"]))
            if not self.check:
                self.client.delete_machine(machine["system_id"])
            return None
        return machine if self.check else self.refresh(machine)

    def params_delete(self):
        """delete_bare_metal."""
        return bool(self.spec.params["delete_bare_metal"])


# --------------------------------------------------------------------------------------------


ARGUMENT_SPEC = dict(
    hostname=dict(type="str", required=True),
    state=dict(type="str", choices=["present", "deployed", "released", "absent"], default="present"),
    provisioning_mode=dict(type="str", choices=["lxd", "bare-metal"], default="lxd"),
    cluster=dict(type="str"),
    cores=dict(type="int"),
    memory=dict(type="str"),
    disks=dict(type="list", elements="dict", options=dict(
        size=dict(type="str", required=True),
        pool=dict(type="str"),
    )),
    vm_host=dict(type="str"),
    zone=dict(type="list", elements="str"),
    pool=dict(type="str"),
    host_tags=dict(type="list", elements="str"),
    strategy=dict(type="str", choices=["most-free", "least-allocated-cpu", "balanced"], default="most-free"),
    project=dict(type="str"),
    interfaces=dict(type="list", elements="dict", options=dict(
        name=dict(type="str"),
        subnet=dict(type="str"),
        ip=dict(type="str"),
    )),
    user_data=dict(type="str"),
    osystem=dict(type="str"),
    distro_series=dict(type="str"),
    hwe_kernel=dict(type="str"),
    tags=dict(type="list", elements="str"),
    domain=dict(type="str"),
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=1800),
    recreate=dict(type="bool", default=False),
    delete_bare_metal=dict(type="bool", default=False),
)


def main():
    """Entry point."""
    module = MaasModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        spec = Spec(module.params)
    except SpecError as exc:
        module.fail_json(str(exc), changed=False, machine=None)
    task = VmTask(module, spec)
    try:
        machine = task.run()
    except MaasError as exc:
        result = task.result(None, failed=True)
        module.fail_from(exc, **result)
    module.exit_json(**task.result(machine))


if __name__ == "__main__":
    main()
