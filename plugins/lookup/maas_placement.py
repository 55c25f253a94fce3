# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``lxdcp.maas.maas_placement`` lookup: plan where the VMs of a cluster go, from live MAAS data."""

from __future__ import annotations

DOCUMENTATION = r"""
name: maas_placement
author: lxdcp.maas contributors (@lxdcp)
short_description: Plan which MAAS LXD VM hosts (or LXD hosts) and zones the VMs of a cluster go to
description:
  - Reads the VM hosts of MAAS (one C(GET /vm-hosts/)), the health of the machines behind them (one filtered
    C(GET /machines/?id=...)) and the VMs the cluster already has (one C(GET /machines/?tags=lxdcp-cluster-<cluster>)),
    then plans where N VMs go with the collection's placement core.
  - In direct mode (O(lxd_via); MAAS 4.0 has no VM hosts) the candidates are the LXD hosts instead - MAAS machines tagged
    O(lxd_host_tag) and the O(lxd_hosts) entries - read from LXD (C(/1.0/resources), the instances' limits, the storage
    pools) exactly as M(lxdcp.maas.maas_lxd_vm) reads them; C(vm_host) in the placements is then the LXD host's name.
  - Only LXD VM hosts are candidates, as for M(lxdcp.maas.maas_lxd_vm), which composes on LXD hosts only; other VM hosts
    (virsh) are listed in C(rejected) with code C(type).
  - Each VM goes to the zone with the fewest replicas of the cluster (within O(max_skew)), preferably to a host
    without one, and the O(strategy) picks among the remaining hosts. See C(docs/placement.md).
  - A hostname that already exists in the cluster keeps its host, so a plan for the same names is stable across runs.
  - Only reads; sends no write to MAAS.
  - With O(scheduler_url), the new VMs are placed by C(lxd-multi-scheduler) instead of locally, among the VM hosts that pass
    MAAS's view first (LXD type, health, pool, tags, zones, and room for one VM in cores, memory and storage as MAAS counts them);
    MAAS is still read to map the scheduler's hosts to VM host ids and zones and to keep existing VMs where they are.
  - Returns one plan (a dictionary); with the C(query) function or C(wantlist=true), a list holding it.
  - With C(-vvv) the explanation of every decision is shown.
version_added: 1.0.0
extends_documentation_fragment:
  - lxdcp.maas.auth
  - lxdcp.maas.auth.plugin
  - lxdcp.maas.placement
  - lxdcp.maas.lxd_hosts
options:
  _terms:
    description:
      - Hostnames of the VMs to place, in order. Lists are flattened, so C(groups['control_plane']) works.
      - Leave empty and set O(count) for an anonymous plan.
    type: list
    elements: str
    required: false
  count:
    description:
      - Number of VMs. Defaults to the number of hostnames given as terms.
      - When both are given they must agree.
    type: int
  cluster:
    description:
      - Name of the cluster. Its existing VMs are found by the ownership tag C(lxdcp-cluster-<cluster>); they count as
        replicas for the zone spread and anti-affinity, and those named in the terms keep their host.
      - Without it, existing VMs are not considered.
    type: str
  cores:
    description: CPU cores of each VM.
    type: int
    default: 2
  memory:
    description:
      - Memory of each VM. A bare number is MiB; C(4G), C(4GiB), C(4096M) are accepted.
    type: raw
    default: 4096
  disk:
    description:
      - Root disk of each VM, checked against the storage pool the VM would use. A bare number is GiB; C(20G),
        C(20GiB) and C(20GB) (decimal) are accepted.
      - Not set, storage is not checked.
    type: raw
  storage_pool:
    description:
      - Storage pool the disk comes from. Default the VM host's default pool.
    type: str
  tags:
    description:
      - Old name of O(host_tags); used only when O(host_tags) is not set.
    type: list
    elements: str
    deprecated:
      why: The lookup and M(lxdcp.maas.maas_lxd_vm) name the VM host's tags O(host_tags).
      version: 2.0.0
      alternatives: host_tags
  max_skew:
    description:
      - Largest allowed difference between the replica counts of two zones; a worse spread is a warning.
      - Sent to the scheduler too with O(scheduler_url).
    type: int
    default: 1
  cpu_over_commit:
    description:
      - CPU over-commit ratio used for every host instead of the one MAAS reports (C(cpu_over_commit_ratio)).
    type: float
  memory_over_commit:
    description:
      - Memory over-commit ratio used for every host instead of the one MAAS reports (C(memory_over_commit_ratio)).
    type: float
  scheduler_url:
    description:
      - URL of an C(lxd-multi-scheduler) service, for example C(http://scheduler:8080). When set, the new VMs are placed by
        its C(POST /schedule) (it only asks, C(reserve=false), since a lookup may be evaluated more than once).
      - The lookup first rejects what MAAS rules out, exactly as a local plan does (non-LXD, unhealthy, wrong pool,
        missing tags, other zones, no room for one VM in MAAS's figures, O(disk) not fitting O(storage_pool)), and sends
        the remaining VM host names as the scheduler's allow-list (C(hosts)); the scheduler then chooses by its live LXD
        figures and reservations. O(zones), O(pool) and O(host_tags) are applied from MAAS and not sent.
      - The scheduler's host names must be the names of the MAAS VM hosts (in direct mode, of the LXD hosts, that is the MAAS
        machines' hostnames, or the O(lxd_hosts) entries' C(name) - the same C(LXD_MULTI_HOSTS) list can serve both); give
        its hosts the MAAS zones as C(zone) for its zone spread. The scheduler must understand C(hosts) and C(max_skew)
        (this collection's version).
      - O(validate_certs) and O(ca_path) apply to this connection too. A redirect is not followed (the API key would
        go with it), and a URL with credentials (C(user:password@)) is refused; the key goes in O(scheduler_api_key).
    type: str
  scheduler_api_key:
    description:
      - API key of the scheduler, sent as C(X-API-Key). Never shown in output.
    type: str
    env:
      - name: LXD_MULTI_SCHEDULER_API_KEY
notes:
  - O(strategy) not set, a local plan uses V(most-free), and with O(scheduler_url) the scheduler's own default strategy
    applies (C(least-allocated-cpu) unless its configuration says otherwise); only a strategy set here is sent to it.
  - The existing VMs of the cluster are found by the ownership tags that M(lxdcp.maas.maas_lxd_vm) sets.
  - Bare metal machines of the cluster (workers) are not replicas of the control plane and are ignored.
seealso:
  - module: lxdcp.maas.maas_lxd_vm
  - module: lxdcp.maas.maas_vmhost_info
"""

EXAMPLES = r"""
- name: Plan three control-plane VMs over the zones
  ansible.builtin.debug:
    msg: "{{ lookup('lxdcp.maas.maas_placement', 'cp-1', 'cp-2', 'cp-3', cluster='prod', cores=4, memory='8G', disk='40G',
             url='http://maas:5240/MAAS', api_key=maas_api_key) }}"

- name: Use the plan for every host of a group (MAAS_URL and MAAS_API_KEY from the environment)
  ansible.builtin.set_fact:
    cp_plan: "{{ lookup('lxdcp.maas.maas_placement', groups['control_plane'], cluster='prod', zones=['az1', 'az2', 'az3'],
                        strategy='balanced') }}"
  run_once: true

- name: Fail early when the zones cannot take the control plane evenly
  ansible.builtin.assert:
    that: cp_plan.warnings | length == 0
    fail_msg: "{{ cp_plan.warnings | join('; ') }}"

- name: Ask lxd-multi-scheduler instead of computing locally
  ansible.builtin.debug:
    msg: "{{ lookup('lxdcp.maas.maas_placement', count=2, cores=2, memory=2048, scheduler_url='http://127.0.0.1:8080') }}"
"""

RETURN = r"""
_raw:
  description: One plan.
  type: list
  elements: dict
  contains:
    strategy:
      description: The strategy used; with the scheduler, the one it reports (its default unless O(strategy) is set).
      type: str
    source:
      description: V(maas) when planned locally, V(scheduler) when lxd-multi-scheduler placed the new VMs.
      type: str
    via:
      description: V(vm-host) when the candidates are MAAS's VM hosts, V(direct) when they are LXD hosts (O(lxd_via)).
      type: str
    cluster:
      description: The cluster name, or null.
      type: str
    placements:
      description:
        - One entry per VM, in the order of the hostnames.
        - C(hostname), C(vm_host) (name), C(vm_host_id), C(zone), C(score) (the strategy's value, lower wins; null for
          existing VMs), C(reason), C(existing) (the VM is already in the cluster), C(system_id) (existing VMs),
          C(index).
        - C(lost_zone) is true for an existing VM in a zone of RV(_raw[].lost_zones).
      type: list
      elements: dict
    rejected:
      description:
        - VM hosts that cannot take even one VM, each with C(host), C(host_id), C(zone), C(code) and C(reason).
        - C(code) is one of the placement core's (C(pool), C(tags), C(zone), C(unhealthy), C(cpu), C(memory), C(storage)),
          or C(type) for a VM host that is not an LXD host (virsh).
        - With the scheduler, MAAS's rejections come first, then the scheduler's (for hosts MAAS allowed), whose
          C(reason) starts with C(lxd-multi-scheduler:) and whose C(code) may also be C(unknown) (not one of its hosts).
      type: list
      elements: dict
    lost_zones:
      description:
        - The zones of the cluster's existing VMs where every host is unhealthy (for example offline), in zone order.
        - Each has C(zone), C(hosts) (C(name), C(reason)) and C(machines), the VMs there (C(hostname), C(system_id),
          C(vm_host), C(status), C(power_state)). Those VMs keep their place in the plan; new VMs avoid the zone.
      type: list
      elements: dict
    warnings:
      description: Problems that did not stop the plan, for example a zone spread worse than O(max_skew) and why.
      type: list
      elements: str
    zone_counts:
      description: Replicas of the cluster per zone once the plan is carried out (existing and new).
      type: dict
    skew:
      description: The achieved zone spread (largest minus smallest zone count).
      type: int
    explanation:
      description: The plan as readable lines (also shown with C(-vvv)).
      type: list
      elements: str
    requests:
      description: Number of HTTP requests the lookup sent (MAAS, LXD hosts and scheduler).
      type: int
"""

from ansible.errors import AnsibleLookupError
from ansible.utils.display import Display

from ansible_collections.lxdcp.maas.plugins.module_utils.cluster_plan import Planner
from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd_hosts import LXD_ARGUMENT_SPEC
from ansible_collections.lxdcp.maas.plugins.module_utils.names import cluster_error
from ansible_collections.lxdcp.maas.plugins.module_utils.placement.core import Request
from ansible_collections.lxdcp.maas.plugins.module_utils.scheduler_client import Scheduler
from ansible_collections.lxdcp.maas.plugins.module_utils.units import SizeError, parse_disk_bytes, parse_memory_mib
from ansible_collections.lxdcp.maas.plugins.plugin_utils.lookup import MaasLookupBase

display = Display()


class LookupModule(MaasLookupBase):
    """Plan placements; see DOCUMENTATION."""

    # The scheduler's opener: None is Ansible's open_url (scheduler_client.py); unit tests answer with their own.
    open_url = None

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        request, names = self._request(terms)
        overrides = self._overrides()
        client = self.client()
        try:
            result = Planner(client, request, names, self.get_option("cluster"), overrides, self._scheduler(),
                             strategy_given=self.get_option("strategy") is not None,
                             lxd_options=dict((option, self.get_option(option)) for option in LXD_ARGUMENT_SPEC)).run()
        except LxdcpError as exc:
            raise self.fail(exc) from None
        for line in result["explanation"]:
            display.vvv("maas_placement: %s" % line)
        return [result]

    # -- options ---------------------------------------------------------------------------

    def _request(self, terms):
        """The placement request and the hostnames, validated before any request is sent."""
        names = list(_flatten(terms or []))
        for name in names:
            if not isinstance(name, str) or not name.strip():
                raise AnsibleLookupError("maas_placement: hostnames must be non-empty strings, got %r" % (name,))
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise AnsibleLookupError("maas_placement: hostnames must be unique; repeated: %s" % ", ".join(repeated))
        count = self.get_option("count")
        if count is None:
            if not names:
                raise AnsibleLookupError("maas_placement: give the hostnames as terms or set count")
            count = len(names)
        elif names and count != len(names):
            raise AnsibleLookupError("maas_placement: count is %d but %d hostname(s) were given (%s)" % (
                count, len(names), ", ".join(names)))
        if count < 1:
            raise AnsibleLookupError("maas_placement: count must be 1 or more, not %d" % count)
        cores = self.get_option("cores")
        if cores < 1:
            raise AnsibleLookupError("maas_placement: cores must be 1 or more, not %d" % cores)
        max_skew = self.get_option("max_skew")
        if max_skew < 1:
            raise AnsibleLookupError("maas_placement: max_skew must be 1 or more, not %d" % max_skew)
        try:
            memory = parse_memory_mib(self.get_option("memory"), what="memory")
            disk = self.get_option("disk")
            disk = parse_disk_bytes(disk, what="disk") if disk not in (None, "") else 0
        except SizeError as exc:
            raise AnsibleLookupError("maas_placement: %s" % exc) from None
        zones = self.get_option("zones")
        if zones is not None and not zones:
            raise AnsibleLookupError("maas_placement: zones must not be empty; leave it unset for every zone")
        cluster = self.get_option("cluster")
        if cluster is not None and cluster_error(cluster):
            raise AnsibleLookupError("maas_placement: %s" % cluster_error(cluster))
        strategy = self.get_option("strategy")
        request = Request(
            count=count,
            cores=cores,
            memory=memory,
            disk=disk,
            storage_pool=self.get_option("storage_pool") or None,
            zones=list(zones) if zones else None,
            pool=self.get_option("pool") or None,
            tags=tuple(self.get_option("host_tags") or self.get_option("tags") or ()),
            max_skew=max_skew,
            **({"strategy": strategy} if strategy else {})  # unset: the placement core's default
        )
        return request, names

    def _overrides(self):
        """Over-commit ratios that replace MAAS's for every host (``Host`` field -> ratio)."""
        overrides = {}
        for option in ("cpu_over_commit", "memory_over_commit"):
            value = self.get_option(option)
            if value is not None:
                if value <= 0:
                    raise AnsibleLookupError("maas_placement: %s must be greater than 0, not %s" % (option, value))
                overrides[option] = float(value)
        return overrides

    def _scheduler(self):
        url = self.get_option("scheduler_url")
        if not url:
            return None
        return Scheduler(
            url=url,
            api_key=self.get_option("scheduler_api_key"),
            validate_certs=self.get_option("validate_certs"),
            ca_path=self.get_option("ca_path"),
            timeout=self.get_option("timeout"),
            opener=self.open_url,
        )


def _flatten(items):
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from _flatten(item)
        else:
            yield item
