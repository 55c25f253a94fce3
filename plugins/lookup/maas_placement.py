# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``lxdcp.maas.maas_placement`` lookup: plan where the VMs of a cluster go, from live MAAS data."""

from __future__ import annotations

DOCUMENTATION = r"""
name: maas_placement
author: lxdcp.maas contributors (@lxdcp)
short_description: Plan which MAAS LXD VM hosts and zones the VMs of a cluster go to
description:
  - Reads the VM hosts of MAAS (one C(GET /vm-hosts/)), the health of the machines behind them (one filtered
    C(GET /machines/?id=...)) and the VMs the cluster already has (one C(GET /machines/?tags=lxdcp-cluster-<cluster>)),
    then plans where N VMs go with the collection's placement core.
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
options:
  _terms:
    description:
      - Hostnames of the VMs to place, in order. Lists are flattened, so C(groups['control_plane']) works.
      - Leave empty and set O(count) for an anonymous plan.
    type: list
    elements: str
    required: false
  url:
    env:
      - name: MAAS_URL
  api_key:
    env:
      - name: MAAS_API_KEY
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
  zones:
    description:
      - Only these availability zones, and spread over all of them (a zone without room shows in the warnings).
      - Default every zone that has a VM host.
    type: list
    elements: str
  pool:
    description: Only VM hosts of this resource pool.
    type: str
  tags:
    description: Only VM hosts carrying all these tags.
    type: list
    elements: str
  strategy:
    description:
      - How to choose among hosts that are equal for the zone spread and anti-affinity.
      - V(most-free) prefers the most free cores and memory relative to the request, V(least-allocated-cpu) the
        fewest allocated cores, V(balanced) the host whose CPU and memory use stay closest after placement.
      - Not set, a local plan uses V(most-free), and with O(scheduler_url) the scheduler's own default strategy applies
        (C(least-allocated-cpu) unless its configuration says otherwise); only a strategy set here is sent to it.
    type: str
    choices: [most-free, least-allocated-cpu, balanced]
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
        figures and reservations. O(zones), O(pool) and O(tags) are applied from MAAS and not sent.
      - The scheduler's host names must be the names of the MAAS VM hosts; give its hosts the MAAS zones as C(zone)
        for its zone spread. The scheduler must understand C(hosts) and C(max_skew) (this collection's version).
      - O(validate_certs) and O(ca_path) apply to this connection too.
    type: str
  scheduler_api_key:
    description:
      - API key of the scheduler, sent as C(X-API-Key). Never shown in output.
    type: str
    env:
      - name: LXD_MULTI_SCHEDULER_API_KEY
notes:
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
    cluster:
      description: The cluster name, or null.
      type: str
    placements:
      description:
        - One entry per VM, in the order of the hostnames.
        - C(hostname), C(vm_host) (name), C(vm_host_id), C(zone), C(score) (the strategy's value, lower wins; null for
          existing VMs), C(reason), C(existing) (the VM is already in the cluster), C(system_id) (existing VMs),
          C(index).
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
      description: Number of HTTP requests the lookup sent (MAAS and scheduler).
      type: int
"""

import collections
import dataclasses
import json

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.lxdcp.maas.plugins.module_utils.client import MaasClient, MaasError
from ansible_collections.lxdcp.maas.plugins.module_utils.common import (
    TAG_RE,
    backing_machines,
    cluster_members,
    cluster_tag,
    placement_host,
    replica_counts,
    vm_host_health,
)
from ansible_collections.lxdcp.maas.plugins.module_utils.placement.core import PlacementError, Request, plan, zone_spread
from ansible_collections.lxdcp.maas.plugins.module_utils.placement.explain import VM, error_message, placement_reason, rejection_dict, warning_text
from ansible_collections.lxdcp.maas.plugins.module_utils.units import SizeError, parse_disk_bytes, parse_memory_mib

display = Display()


class LookupModule(LookupBase):
    """Plan placements; see DOCUMENTATION."""

    # Unit tests replace this to put a fake transport under the client.
    client_class = MaasClient
    # Unit tests replace this to answer scheduler requests.
    open_url = staticmethod(open_url)

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        request, names = self._request(terms)
        overrides = self._overrides()
        client = self._client()
        try:
            result = Planner(client, request, names, self.get_option("cluster"), overrides, self._scheduler(),
                             strategy_given=self.get_option("strategy") is not None).run()
        except MaasError as exc:
            raise AnsibleLookupError("maas_placement: %s" % exc) from None
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
        if cluster is not None and not TAG_RE.match(cluster):
            raise AnsibleLookupError("maas_placement: cluster %r may only contain letters, digits, '_' and '-' (it is part of the "
                                     "MAAS tag %s)" % (cluster, cluster_tag(cluster)))
        strategy = self.get_option("strategy")
        request = Request(
            count=count,
            cores=cores,
            memory=memory,
            disk=disk,
            storage_pool=self.get_option("storage_pool") or None,
            zones=list(zones) if zones else None,
            pool=self.get_option("pool") or None,
            tags=tuple(self.get_option("tags") or ()),
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

    def _client(self):
        url = self.get_option("url")
        if url.lower().startswith("https") and not self.get_option("validate_certs"):
            display.warning("maas_placement: validate_certs is false: the TLS certificate of MAAS is not checked")
        try:
            return self.client_class(
                url=url,
                api_key=self.get_option("api_key"),
                validate_certs=self.get_option("validate_certs"),
                ca_path=self.get_option("ca_path"),
                timeout=self.get_option("timeout"),
                retries=self.get_option("retries"),
                logger=lambda line: display.vvvv("maas_placement: %s" % line),
            )
        except MaasError as exc:
            raise AnsibleLookupError("maas_placement: %s" % exc) from None

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


# --------------------------------------------------------------------------------------------
# Reading MAAS and planning


class Planner(object):
    """One plan: read MAAS, keep existing VMs where they are, place the new ones (locally or by the scheduler).

    ``strategy_given`` says whether the user chose ``request.strategy``; only then is it sent to the scheduler.
    """

    def __init__(self, client, request, names, cluster, overrides, scheduler=None, strategy_given=True):
        self.client = client
        self.request = request
        self.names = names
        self.cluster = cluster
        self.overrides = overrides
        self.scheduler = scheduler
        self.strategy_given = strategy_given
        self.warnings = []

    def run(self):
        """The plan as a JSON-safe dict (see RETURN)."""
        vm_hosts, not_lxd = self._vm_hosts()
        health = self._health(vm_hosts)
        existing = self._existing()
        by_pod, outside = replica_counts(existing.values(), {host.get("id") for host in vm_hosts})
        hosts = [self._host(vm_host, health, by_pod.get(vm_host.get("id"), 0)) for vm_host in vm_hosts]
        kept, new_names = self._kept(existing, hosts)
        new_count = self.request.count - len(kept)
        scheduled = self.scheduler is not None and new_count > 0
        rejected, warnings, placed, strategy = [], [], [], self.request.strategy
        if new_count:
            names = new_names if self.names else None
            ask = dataclasses.replace(self.request, count=new_count, names=names, existing_zones=outside or None)
            if scheduled:
                placed, rejected, warnings, strategy = self._schedule(ask, hosts, not_lxd)
            else:
                placed, rejected, warnings = self._plan_locally(ask, hosts, not_lxd)
        rejected = not_lxd + rejected
        placements = self._ordered(kept, placed)
        zone_counts, skew = zone_spread(hosts, dataclasses.replace(self.request, existing_zones=outside or None),
                                        [item["zone"] for item in placed])
        if skew > self.request.max_skew and (scheduled or not new_count):
            # A local plan explains its own spread; the scheduler does not know the cluster's existing replicas or
            # MAAS's zones, so the lookup checks what it did.
            counts = ", ".join("%s: %d" % item for item in zone_counts.items())
            why = ("lxd-multi-scheduler chose among the VM hosts MAAS allows (see rejected), by its own zone labels and without "
                   "knowing the cluster's existing replicas" if scheduled else "every VM already exists and keeps its host")
            warnings.append("zone spread is %d (%s), asked for at most %d: %s" % (skew, counts, self.request.max_skew, why))
        result = {
            "strategy": strategy,
            "source": "scheduler" if scheduled else "maas",
            "cluster": self.cluster,
            "placements": placements,
            "rejected": rejected,
            "warnings": self.warnings + warnings,
            "zone_counts": zone_counts,
            "skew": skew,
            "max_skew": self.request.max_skew,
        }
        result["explanation"] = explain(result)
        result["requests"] = self.client.requests_sent + (self.scheduler.requests_sent if self.scheduler else 0)
        return result

    def _vm_hosts(self):
        """The LXD VM hosts (the only ones VMs are composed on) and the rejections of the others (virsh)."""
        vm_hosts, not_lxd = [], []
        for vm_host in self.client.list_vm_hosts():
            if vm_host.get("type") == "lxd":
                vm_hosts.append(vm_host)
                continue
            not_lxd.append({
                "host": vm_host.get("name"),
                "host_id": vm_host.get("id"),
                "zone": _name(vm_host.get("zone")) or "default",
                "code": "type",
                "reason": "%s VM host, not LXD: maas_lxd_vm composes LXD VMs only" % (vm_host.get("type") or "untyped"),
            })
        if not vm_hosts:
            others = "; ".join("%s: %s" % (item["host"], item["reason"]) for item in not_lxd)
            raise AnsibleLookupError("maas_placement: MAAS has no LXD VM host%s; add one (MAAS UI > KVM > Add LXD host)" % (
                " (%s)" % others if others else ""))
        return vm_hosts, not_lxd

    def _health(self, vm_hosts):
        """VM host id -> health of its backing machine, from one filtered read of those machines."""
        machines = backing_machines(self.client, vm_hosts)
        health = {}
        for vm_host in vm_hosts:
            system_id = (vm_host.get("host") or {}).get("system_id")
            health[vm_host.get("id")] = state = vm_host_health(vm_host, machines.get(system_id))
            if system_id is not None and state["state"] == "unknown":
                self.warnings.append("VM host %s: %s; its health is not checked" % (vm_host.get("name"), state["reason"]))
        return health

    def _existing(self):
        """Hostname -> machine of this cluster's machines (one filtered request), or {} without a cluster."""
        if not self.cluster:
            return {}
        return {machine.get("hostname"): machine for machine in cluster_members(self.client, self.cluster)}

    def _host(self, vm_host, health, replicas):
        host = placement_host(vm_host, health.get(vm_host.get("id")), replicas)
        return dataclasses.replace(host, **self.overrides) if self.overrides else host

    def _kept(self, existing, hosts):
        """Placements of the named VMs that already exist, and the names still to place."""
        by_id = {host.id: host for host in hosts}
        kept, new_names = {}, []
        for index, name in enumerate(self.names):
            machine = existing.get(name)
            if machine is None:
                new_names.append(name)
                continue
            pod = machine.get("pod") or {}
            host = by_id.get(pod.get("id"))
            zone = _name(machine.get("zone")) or (host.zone if host else "default")
            where = "on VM host %s" % pod.get("name") if pod else "on bare metal"
            kept[name] = {
                "index": index,
                "hostname": name,
                "vm_host": pod.get("name"),
                "vm_host_id": pod.get("id"),
                "zone": zone,
                "score": None,
                "reason": "exists in the cluster as %s (%s) %s in zone %s; kept where it is" % (
                    machine.get("system_id"), machine.get("status_name"), where, zone),
                "existing": True,
                "system_id": machine.get("system_id"),
            }
        return kept, new_names

    @staticmethod
    def _core_plan(hosts, request, not_lxd, context=""):
        """``plan(hosts, request)`` with its errors as lookup errors (``context`` prefixes an impossible plan's message)."""
        try:
            return plan(hosts, request)
        except PlacementError as exc:
            raise MaasPlanError(exc, not_lxd, context) from None
        except ValueError as exc:
            raise AnsibleLookupError("maas_placement: MAAS reported data the placement core cannot use: %s" % exc) from None

    def _plan_locally(self, ask, hosts, not_lxd):
        result = self._core_plan(hosts, ask, not_lxd)
        placed = [{
            "hostname": item.name,
            "vm_host": item.host,
            "vm_host_id": item.host_id,
            "zone": item.zone,
            "score": item.score,
            "reason": placement_reason(item, VM),
            "existing": False,
            "system_id": None,
        } for item in result.placements]
        return placed, [rejection_dict(rejection) for rejection in result.rejected], [warning_text(warning, VM) for warning in result.warnings]

    def _schedule(self, ask, hosts, not_lxd):
        """Place the new VMs with lxd-multi-scheduler, among the VM hosts MAAS would compose one of them on.

        Returns the placements, the rejections (MAAS's, then the scheduler's), the warnings and the strategy used.
        """
        allowed, maas_rejected = self._maas_candidates(ask, hosts, not_lxd)
        by_name = {host.name: host for host in hosts}
        try:
            answer = self.scheduler.schedule(ask, [host.name for host in allowed], ask.strategy if self.strategy_given else None)
        except SchedulerRefused as exc:
            if not exc.details:  # not a placement refusal (key, request): the hosts do not matter
                raise
            rejected = not_lxd + maas_rejected + _scheduler_rejections(exc.details, by_name)
            raise AnsibleLookupError("\n".join([exc.summary] + rejection_lines(rejected))) from None
        placed, warnings = self._scheduled(ask, answer.get("placements") or [], [host.name for host in allowed], by_name)
        self._check_room(ask, placed, by_name)
        warnings = ["lxd-multi-scheduler: %s" % to_text(w) for w in answer.get("warnings") or []] + warnings
        rejected = maas_rejected + _scheduler_rejections(answer.get("rejected"), by_name)
        return placed, rejected, warnings, answer.get("strategy")

    @staticmethod
    def _scheduled(ask, items, allowed_names, by_name):
        """The scheduler's placements as the lookup's, and a warning for each that shares a host with the cluster."""
        if len(items) != ask.count:
            raise AnsibleLookupError("maas_placement: lxd-multi-scheduler answered %d placement(s) for %d VM(s)" % (len(items), ask.count))
        placed, warnings = [], []
        for index, item in enumerate(items):
            host = by_name.get(item.get("host"))
            if host is None or host.name not in allowed_names:
                raise AnsibleLookupError(
                    "maas_placement: the scheduler chose host %r, which is not one of the MAAS VM hosts it was allowed (%s); name the "
                    "scheduler's hosts after the MAAS VM hosts" % (item.get("host"), ", ".join(allowed_names)))
            hostname = ask.names[index] if ask.names else None
            placed.append({
                "hostname": hostname,
                "vm_host": host.name,
                "vm_host_id": host.id,
                "zone": host.zone,
                "score": item.get("score"),
                "reason": "lxd-multi-scheduler: %s" % item.get("reason"),
                "existing": False,
                "system_id": None,
            })
            if host.replicas:
                warnings.append("%s goes to %s, which already runs %d VM(s) of the cluster: lxd-multi-scheduler does not know them" % (
                    hostname or "VM %d" % index, host.name, host.replicas))
        return placed, warnings

    def _maas_candidates(self, ask, hosts, not_lxd):
        """The VM hosts MAAS would compose one VM of ``ask`` on, and the rejections of the others.

        The placement core's own filters decide, as for a local plan (pool, tags, zones, health, then cores, memory and
        storage as MAAS counts them, which MAAS checks again when it composes): a plan for one VM rejects exactly the
        hosts that cannot take any.
        """
        result = self._core_plan(hosts, dataclasses.replace(ask, count=1, names=None), not_lxd,
                                 "no MAAS VM host can take one of the VMs, so lxd-multi-scheduler was not asked: ")
        rejected = {rejection.host for rejection in result.rejected}
        return [host for host in hosts if host.name not in rejected], [rejection_dict(rejection) for rejection in result.rejected]

    def _check_room(self, ask, placed, by_name):
        """Fail when the scheduler put more VMs on a host than MAAS, which composes them one by one, has room for there."""
        for name, count in sorted(collections.Counter(item["vm_host"] for item in placed).items()):
            if count > 1:  # one VM fits: the host passed _maas_candidates
                one_host = dataclasses.replace(ask, count=count, names=None, zones=None, existing_zones=None)
                self._core_plan([by_name[name]], one_host, (),
                                "lxd-multi-scheduler put %d VMs on %s, more than MAAS has room for there: " % (count, name))

    def _ordered(self, kept, placed):
        if not self.names:
            return [dict(item, index=index) for index, item in enumerate(placed)]
        new = iter(placed)
        placements = []
        for index, name in enumerate(self.names):
            item = kept.get(name) or dict(next(new), index=index)
            placements.append(item)
        return placements


class MaasPlanError(AnsibleLookupError):
    """The request cannot be placed; the message names the tightest constraint and every rejected host.

    ``not_lxd`` are the rejections of VM hosts that are not LXD hosts, which the placement core never saw.
    """

    def __init__(self, error, not_lxd=(), context=""):
        lines = ["maas_placement: %s%s" % (context, error_message(error, VM))]
        for item in error.placements:
            lines.append("  would place VM %s on %s in %s" % (item.name or item.index, item.host, item.zone))
        lines.extend(rejection_lines(list(not_lxd) + [rejection_dict(rejection) for rejection in error.rejected]))
        super(MaasPlanError, self).__init__("\n".join(lines))


def rejection_lines(rejected):
    """The indented ``rejected <host> (<zone>): <reason>`` lines of an error message."""
    return ["  rejected %s (%s): %s" % (item["host"], item["zone"], item["reason"]) for item in rejected]


def _scheduler_rejections(items, by_name):
    """The scheduler's rejections with MAAS VM host ids and zones, the reason marked as the scheduler's.

    Those of hosts outside the allow-list (code ``hosts``) are left out: they are MAAS's rejections, listed already
    with MAAS's reason, or scheduler hosts that are no MAAS VM hosts.
    """
    rejected = []
    for item in items or []:
        if not isinstance(item, dict) or item.get("code") == "hosts":
            continue
        host = by_name.get(item.get("host"))
        rejected.append({
            "host": item.get("host"),
            "host_id": host.id if host else None,
            "zone": host.zone if host else item.get("zone"),
            "code": item.get("code"),
            "reason": "lxd-multi-scheduler: %s" % item.get("reason"),
        })
    return rejected


def explain(result):
    """Readable lines for a plan dict."""
    placements = result["placements"]
    new = [item for item in placements if not item["existing"]]
    lines = ["%s: %d VM(s), %d new, %d kept; %d host(s) rejected" % (
        ("lxd-multi-scheduler, strategy %s" if result["source"] == "scheduler" else "strategy %s") % result["strategy"],
        len(placements), len(new), len(placements) - len(new), len(result["rejected"]))]
    for item in placements:
        label = item["hostname"] or "VM %d" % item["index"]
        lines.append("%s -> %s in %s: %s" % (label, item["vm_host"] or "bare metal", item["zone"], item["reason"]))
    for rejection in result["rejected"]:
        lines.append("rejected %s (%s): %s" % (rejection.get("host"), rejection.get("zone"), rejection.get("reason")))
    for warning in result["warnings"]:
        lines.append("warning: %s" % warning)
    counts = ", ".join("%s=%d" % item for item in result["zone_counts"].items())
    lines.append("zones: %s (spread %d, max_skew %d)" % (counts or "none", result["skew"], result["max_skew"]))
    return lines


def _name(obj):
    """``zone``/``pool`` come as nested objects with a name (or, in a few places, as plain names)."""
    if isinstance(obj, dict):
        return obj.get("name")
    return obj


# --------------------------------------------------------------------------------------------
# lxd-multi-scheduler


class Scheduler(object):
    """A client of ``POST /schedule`` of lxd-multi-scheduler; the API key is sent as a header and never shown."""

    def __init__(self, url, api_key=None, validate_certs=True, ca_path=None, timeout=30, opener=open_url):
        self.url = url.rstrip("/") + "/schedule"
        self._api_key = api_key
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.timeout = timeout
        self._open = opener
        self.requests_sent = 0

    def __repr__(self):
        return "Scheduler(url=%r)" % self.url

    def schedule(self, request, hosts, strategy=None):
        """Ask (without reserving) where ``request.count`` VMs go among ``hosts``; return the decoded answer.

        ``strategy`` None leaves the choice to the scheduler's default. Raises :class:`SchedulerRefused` for an
        error answer, :class:`AnsibleLookupError` when the scheduler cannot be reached or answers no JSON.
        """
        body = {
            "instance_requirements": {"cpu": request.cores, "memory": request.memory},
            "count": request.count,
            "reserve": False,
            "hosts": list(hosts),
            "max_skew": request.max_skew,
        }
        if strategy:
            body["strategy"] = strategy
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["X-API-Key"] = self._api_key
        self.requests_sent += 1
        try:
            response = self._open(self.url, data=json.dumps(body), headers=headers, method="POST",
                                  validate_certs=self.validate_certs, ca_path=self.ca_path, timeout=self.timeout)
            return json.loads(response.read())
        except HTTPError as exc:
            raise SchedulerRefused(self.url, exc) from None
        except (URLError, OSError) as exc:
            raise AnsibleLookupError("maas_placement: cannot reach lxd-multi-scheduler at %s: %s" % (
                self.url, getattr(exc, "reason", exc))) from None
        except ValueError as exc:
            raise AnsibleLookupError("maas_placement: lxd-multi-scheduler at %s answered something that is not JSON: %s" % (
                self.url, exc)) from None


class SchedulerRefused(AnsibleLookupError):
    """lxd-multi-scheduler answered an error. ``summary`` says what it said (and what to do); ``details`` are its
    per-host rejections (409 and 503 answers), which the planner lists together with MAAS's."""

    # Request fields this lookup needs that a scheduler older than this collection rejects as unknown.
    NEW_FIELDS = ("hosts", "max_skew")

    def __init__(self, url, error):
        try:
            body = json.loads(error.read())
        except (ValueError, AttributeError, TypeError):
            body = None
        body = body if isinstance(body, dict) else {}
        text = "%d %s" % (error.code, body.get("message") or body.get("error") or error.reason)
        if error.code == 401:
            text += "; check scheduler_api_key (LXD_MULTI_SCHEDULER_API_KEY)"
        if error.code == 400 and body.get("field") in self.NEW_FIELDS and "unknown field" in text:
            text += "; this lxd-multi-scheduler is older than the lookup, which sends %s: upgrade it" % " and ".join(self.NEW_FIELDS)
        self.summary = "maas_placement: lxd-multi-scheduler at %s refused the request: %s" % (url, text)
        self.details = [item for item in body.get("details") or [] if isinstance(item, dict) and item.get("host")]
        super(SchedulerRefused, self).__init__(self.summary)
