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
    O(vm_host) or one chosen by the placement core from O(zones), O(pool) and O(host_tags) (zone spread and
    anti-affinity with the other VMs of O(cluster)). If composing fails on the chosen host, the next suitable host
    is tried and every attempt is reported.
  - On a MAAS without VM hosts (4.0), or with O(lxd_via=direct), the LXD VM is created on an LXD host through LXD's
    REST API - with the definition MAAS uses when it composes, and the collection's C(user.lxdcp.*) marks - then
    registered in MAAS as an C(lxd)-powered machine, tagged and commissioned; MAAS's certificate for the machine is
    trusted on the LXD host so that MAAS can power it. The LXD hosts are MAAS machines tagged O(lxd_host_tag) and the
    O(lxd_hosts) entries; the same placement core, failover, drift, check mode and removal apply.
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
  - lxdcp.maas.placement
  - lxdcp.maas.lxd_hosts
  - lxdcp.maas.provider_ids
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - lxdcp.maas.attributes.action
attributes:
  check_mode:
    support: full
    details: >-
      No write request is sent; the result says what would be done and which host would be chosen (in bare-metal mode,
      which machine MAAS would allocate now: machines allocated at the same time may take it first).
  diff_mode:
    support: full
    details: >-
      Shows the hostname, state, cores, memory, disks, VM host, zone, pool, tags and IP addresses before and after. For a
      machine still to be made, check mode shows what is known before it exists; the addresses MAAS gives it when it
      deploys it are not.
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
      - V(lxd) makes an LXD VM - composed by MAAS on a VM host, or created on an LXD host and registered in MAAS
        (direct mode, O(lxd_via)); V(bare-metal) allocates a machine MAAS manages.
      - In V(bare-metal) mode a missing machine is allocated by constraints (O(cores) and O(memory) as minimums,
        O(zones), O(pool), O(host_tags) as machine tags, O(disks) sizes) and renamed to O(hostname); an existing
        machine of that name is used if it carries the ownership tags, or if it is V(Ready), not owned by anyone
        and carries no other cluster's tag.
      - An allocation by constraints never takes a machine carrying C(lxdcp-managed) or a C(lxdcp-cluster-<name>) tag,
        nor a VM, tagged yet or not (MAAS constraints C(not_tags), and C(not_pod_type) V(lxd) and V(virsh), which
        also keep MAAS from composing a VM for the allocation); see C(docs/modules.md). MAAS 4.0 has no such pod
        constraints, so an LXD VM it allocates is released again and the task fails.
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
      - It must still match O(zones), O(pool) and O(host_tags) when those are given.
    type: str
  preferred_vm_host:
    description:
      - Name or id of the VM host to try first, typically the one the P(lxdcp.maas.maas_placement#lookup) lookup planned.
      - Unlike O(vm_host) it is no pin - when composing fails there for a reason that is the host's (it refuses,
        is unreachable or offline, has no room any more, or the VM's commissioning fails on it), or the host cannot
        take the VM any more, the host is given up for this run and the VM is placed again by the placement core
        against MAAS's current figures (O(zones), O(pool), O(host_tags), O(strategy), the cluster's other VMs).
        Each failover is warned about and returned in RV(failover).
      - An existing VM on another host is no drift.
      - Mutually exclusive with O(vm_host).
    type: str
  max_hosts:
    description:
      - How many VM hosts may be given up (failover) before the task fails, naming every host tried and why.
      - A failure that is not the host's (bad input, authentication, MAAS itself unavailable) never fails over.
    type: int
    default: 3
  recover:
    description:
      - What to do with an existing machine MAAS reports as failed.
      - Not set - fail and say what MAAS reported; with O(state=deployed) a machine in V(Failed deployment) is released
        and deployed again (what O(state=deployed) asks for).
      - V(none) - fail and say what MAAS reported, with every O(state) (the C(lxdcp.maas.provision) role passes it -
        a failed machine stops the run unless C(provision_recover) says otherwise).
      - V(redeploy) - a machine in V(Failed deployment) is released and, with O(state=deployed), deployed again.
      - V(recreate) - a VM in a failed state (V(Failed commissioning), V(Failed deployment), V(Broken)...) is deleted
        and composed again (with failover). Not for bare metal.
    type: str
    choices: [none, redeploy, recreate]
  zones:
    aliases: [zone]
  host_tags:
    description:
      - Tags the VM host must carry (V(lxd)) or the machine must carry (V(bare-metal)).
  strategy:
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
      gateway:
        description:
          - Default gateway of the VM, through this interface. Needs O(interfaces[].ip); at most one interface per IP
            version may have one.
          - MAAS writes a machine's default gateway from the C(gateway_ip) of one of its subnets and lets a machine
            choose only which link gives it. So the gateway must be the C(gateway_ip) MAAS has for the address's
            subnet, else the task fails before any write. It is applied by making this interface's static link the
            machine's default gateway (C(link_subnet) with C(default_gateway), or C(set_default_gateway)), which MAAS
            allows only while the machine is not deployed; a deployed VM whose default gateway differs fails.
          - See C(docs/static-ips.md) for MAAS's model.
        type: str
      dns_servers:
        description:
          - DNS servers of the VM on this interface. Needs O(interfaces[].ip).
          - MAAS writes a machine's resolvers from its subnets' C(dns_servers) (plus its rack controllers when the
            subnet allows DNS), with no per-machine setting, and cloud-init takes no network settings from user
            data. So each server must be one of the subnet's C(dns_servers) in MAAS, else the task fails before any
            write; the list then states what the VM gets.
        type: list
        elements: str
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
  role:
    description:
      - The machine's role in its cluster. V(worker) tags it C(lxdcp-worker), the mark by which the C(lxdcp.maas.maas)
        inventory puts it in group C(workers); V(control-plane) removes that tag when the machine carries it (a machine
        of a cluster without it is in the control plane).
      - Not set, the worker mark is neither added nor removed.
      - A bare-metal machine loses the mark with its ownership tags when it is released (O(state=absent)).
    type: str
    choices: [control-plane, worker]
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
  deploy_wait:
    description:
      - With O(state=deployed) and O(wait), whether to wait until the deployment ends (V(Deployed)).
      - V(false) returns as soon as MAAS deploys the machine (V(Deploying)), after every earlier wait (commissioning,
        a release). A play then waits for all its machines at once with M(lxdcp.maas.maas_machine_info) and
        O(lxdcp.maas.maas_machine_info#module:wait_for), one request per interval for all of them, as the
        C(lxdcp.maas.deploy) role does.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds the whole task may wait for MAAS. The pause between two polls is a quarter of the time waited so far,
        from 0.5 s up to 10 s, so a new state is seen at most 25 % of the waiting time (and at most 10 s) after MAAS
        reports it.
    type: int
    default: 1800
  recreate:
    description:
      - When an existing VM differs from O(cores), O(memory), O(disks), O(vm_host), O(zones) or O(pool), delete it
        and compose it again. Without it, such drift makes the task fail. Not available in V(bare-metal) mode.
    type: bool
    default: false
  delete_bare_metal:
    description:
      - With O(state=absent) in V(bare-metal) mode, also delete the machine record from MAAS.
    type: bool
    default: false
  removed_with:
    description:
      - With O(state=absent) and O(cluster), the hostnames of the other tasks of this run that remove the cluster's
        machines (the release role passes them). Used by check mode only, with O(wait).
      - The real run deletes the cluster's tag with the cluster's last machine, whichever is removed last. Check mode
        removes nothing; with this list, when the cluster has no machine left but these, one task predicts the
        deletion, the task of the cluster's machine whose hostname sorts last (plain string order), or with no machine
        of the cluster at all, the task whose hostname sorts after all of these.
    type: list
    elements: str
  keep_cluster_tag:
    description:
      - With O(state=absent) and O(cluster), leave the cluster's tag even with the cluster's last machine, for a run
        that adds machines to the cluster in other tasks (C(playbooks/control_plane.yml) with nodes marked
        C(lxdcp_state=absent)), as check mode does not make those and would otherwise predict the tag's deletion.
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
  - A VM whose VM host cannot be reached (its power state is C(error)) cannot be released, since MAAS powers it off
    through the host first. O(state=absent) deletes it without a release and without checking the host's capacity,
    with a warning (MAAS deletes the machine even though the instance stays on the host).
  - MAAS has VM hosts from 3.0 to 3.8. MAAS 4.0 removed them (C(/vm-hosts/) answers 410 Gone); there, with
    O(lxd_via=auto) (the default) or V(direct), the VM is created on an LXD host through LXD's API and registered in MAAS
    as an C(lxd)-powered machine (see C(docs/lxd-direct.md)). V(bare-metal) mode works with both.
  - In direct mode, static IPs work the same way (C(link_subnet mode=STATIC) once the machine is commissioned); each
    entry of O(interfaces) is one NIC on the LXD host's bridge, named as the entry says.
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
    zones: [az1, az2, az3]
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
    zones: [az1]
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
      description:
        - VM host the VM runs on (C(id), C(name)), V(null) for bare metal. In direct mode the LXD host (C(id) V(null)).
      type: dict
      sample: {id: 1, name: lxd-az1-a}
    lxd_vm:
      description: Whether the machine is an LXD VM (composed on a VM host, or powered by LXD), not bare metal.
      type: bool
      sample: true
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
    hwe_kernel:
      description: Kernel of the deployment.
      type: str
    power_state:
      description: Power state.
      type: str
    owner:
      description: User the machine is allocated to.
      type: str
    provider_id:
      description:
        - C(maas-lxd:///<zone>/<system_id>) for LXD VMs (C(maas:///<zone>/<system_id>) with
          O(vm_provider_id_scheme=maas)), C(maas:///<zone>/<system_id>) for bare metal - the shape
          cluster-api-provider-maas writes.
        - Computed from the machine's zone and system id, not stored in MAAS.
      type: str
      sample: maas-lxd:///az1/pwtk7e
provider_id:
  description: The machine's provider id (see RV(machine.provider_id)); V(null) when there is no machine.
  returned: always
  type: str
  sample: maas-lxd:///az1/pwtk7e
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
created:
  description:
    - Whether this run composed the VM (or allocated the bare-metal machine). On a failure after that, the machine
      exists and is the run's to remove (the C(provision) role's all-or-nothing rollback uses it).
  returned: always
  type: bool
failover:
  description:
    - The VM hosts given up in this run, in order, each with C(host), C(reason) and C(new_host) (the host the VM was
      placed on next, V(null) when none was).
  returned: when a VM host was given up
  type: list
  elements: dict
  sample: [{host: lxd-az1-a, reason: "compose failed: ...", new_host: lxd-az2-b}]
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
"""

from ansible_collections.lxdcp.maas.plugins.module_utils.lxd_hosts import LXD_ARGUMENT_SPEC
from ansible_collections.lxdcp.maas.plugins.module_utils.machines import PROVIDER_ID_ARGUMENT_SPEC
from ansible_collections.lxdcp.maas.plugins.module_utils.module import ModuleTask
from ansible_collections.lxdcp.maas.plugins.module_utils.provisioning.runner import run

ARGUMENT_SPEC = dict(
    LXD_ARGUMENT_SPEC,
    **PROVIDER_ID_ARGUMENT_SPEC,
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
    zones=dict(type="list", elements="str", aliases=["zone"],
               deprecated_aliases=[dict(name="zone", version="2.0.0", collection_name="lxdcp.maas")]),
    pool=dict(type="str"),
    host_tags=dict(type="list", elements="str"),
    strategy=dict(type="str", choices=["most-free", "least-allocated-cpu", "balanced"], default="most-free"),
    project=dict(type="str"),
    interfaces=dict(type="list", elements="dict", options=dict(
        name=dict(type="str"),
        subnet=dict(type="str"),
        ip=dict(type="str"),
        gateway=dict(type="str"),
        dns_servers=dict(type="list", elements="str"),
    )),
    user_data=dict(type="str"),
    osystem=dict(type="str"),
    distro_series=dict(type="str"),
    hwe_kernel=dict(type="str"),
    tags=dict(type="list", elements="str"),
    role=dict(type="str", choices=["control-plane", "worker"]),
    domain=dict(type="str"),
    wait=dict(type="bool", default=True),
    deploy_wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=1800),
    recreate=dict(type="bool", default=False),
    preferred_vm_host=dict(type="str"),
    max_hosts=dict(type="int", default=3),
    recover=dict(type="str", choices=["none", "redeploy", "recreate"]),
    delete_bare_metal=dict(type="bool", default=False),
    removed_with=dict(type="list", elements="str"),
    keep_cluster_tag=dict(type="bool", default=False),
)


# Run by main() here, and by the collection's action plugin in the controller's process when the task runs there.
TASK = ModuleTask(run, argument_spec=ARGUMENT_SPEC, supports_check_mode=True, failure_result=dict(changed=False, machine=None))


def main():
    """Entry point."""
    TASK.main()


if __name__ == "__main__":
    main()
