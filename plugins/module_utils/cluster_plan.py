# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of a cluster's VMs, as the ``maas_placement`` lookup makes it: existing VMs kept, new ones placed.

The candidates are MAAS's VM hosts (``maas_view.candidate_hosts``, the same read ``maas_lxd_vm``
makes when it composes) or, in direct mode (MAAS 4.0), the LXD hosts (``lxd_hosts.lxd_candidates``,
the read ``maas_lxd_vm`` makes when it creates the VM on LXD), as ``lxd_via`` chooses; the new VMs
are placed by the placement core, or by lxd-multi-scheduler among the hosts MAAS allows
(``scheduler_client.py``). Errors are :class:`LxdcpError`; the lookup prefixes them.
"""

from __future__ import annotations

import collections
import dataclasses

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd_hosts import Connections, placement_candidates
from ansible_collections.lxdcp.maas.plugins.module_utils.maas_view import check_places
from ansible_collections.lxdcp.maas.plugins.module_utils.ownership import is_owned
from ansible_collections.lxdcp.maas.plugins.module_utils.placement.core import PlacementError, plan, zone_spread
from ansible_collections.lxdcp.maas.plugins.module_utils.placement.explain import VM, error_message, placement_reason, rejection_dict, warning_text
from ansible_collections.lxdcp.maas.plugins.module_utils.scheduler_client import SchedulerRefused


@dataclasses.dataclass(repr=False)
class Planner:
    """One plan: read MAAS, keep existing VMs where they are, place the new ones (locally or by the scheduler).

    ``strategy_given`` says whether the user chose ``request.strategy``; only then is it sent to the scheduler.
    ``lxd_options`` are the ``lxdcp.maas.lxd_hosts`` options (``lxd_via`` and the LXD hosts of direct mode).
    """

    client: object
    request: object
    names: list
    cluster: object
    overrides: dict
    scheduler: object = None
    strategy_given: bool = True
    lxd_options: dict = None
    warnings: list = dataclasses.field(default_factory=list)
    connections: object = dataclasses.field(default_factory=Connections)
    noun: str = "VM host"  # or "LXD host" (direct mode)

    def run(self):
        """The plan as a JSON-safe dict (see RETURN)."""
        check_places(self.client, self.request.zones, self.request.pool)  # a typo fails here, before any change
        candidates = placement_candidates(self.client, self.lxd_options or {}, self.cluster, overrides=self.overrides,
                                          names=self.names, connections=self.connections)
        self.noun = "LXD host" if candidates.via == "direct" else "VM host"
        self.warnings = list(candidates.warnings)
        hosts, not_lxd, outside = candidates.hosts, candidates.not_lxd, candidates.existing_zones
        kept, new_names = self._kept(candidates, hosts)
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
            why = ("lxd-multi-scheduler chose among the %ss MAAS allows (see rejected), by its own zone labels and without "
                   "knowing the cluster's existing replicas" % self.noun if scheduled else "every VM already exists and keeps its host")
            warnings.append("zone spread is %d (%s), asked for at most %d: %s" % (skew, counts, self.request.max_skew, why))
        lost = self._lost_zones(hosts, kept, candidates.members)
        warnings += [lost_zone_line(zone, self.noun) for zone in lost]
        result = {
            "lost_zones": lost,
            "strategy": strategy,
            "source": "scheduler" if scheduled else "maas",
            "via": candidates.via,
            "cluster": self.cluster,
            "placements": placements,
            "rejected": rejected,
            "warnings": self.warnings + warnings,
            "zone_counts": zone_counts,
            "skew": skew,
            "max_skew": self.request.max_skew,
        }
        result["explanation"] = explain(result)
        result["requests"] = (self.client.requests_sent + self.connections.requests_sent
                              + (self.scheduler.requests_sent if self.scheduler else 0))
        return result

    def _kept(self, candidates, hosts):
        """Placements of the named VMs that already exist, and the names still to place.

        A VM exists as a machine of the cluster in MAAS, or (direct mode) as an instance of the cluster on an LXD host that
        an interrupted run did not register yet (``maas_lxd_vm`` registers it where it is).
        """
        by_id = {host.id: host for host in hosts}
        by_name = {host.name: host for host in hosts}
        kept, new_names = {}, []
        for index, name in enumerate(self.names):
            machine = candidates.members.get(name)
            on = candidates.hosted.get(name)
            if machine is None and on is None:
                new_names.append(name)
                continue
            pod = (machine or {}).get("pod") or {}
            host = by_name.get(on) if on else by_id.get(pod.get("id"))
            machine_zone = _name((machine or {}).get("zone"))
            zone = machine_zone or (host.zone if host else "default")
            where = ("on %s %s" % (self.noun, host.name)) if host else "on VM host %s" % pod.get("name") if pod else "on bare metal"
            if machine is None:
                what = "as an LXD instance on %s that an interrupted run did not register in MAAS (maas_lxd_vm registers it)" % on
            else:
                what = "as %s (%s) %s in zone %s%s" % (
                    machine.get("system_id"), machine.get("status_name"), where, zone,
                    "" if is_owned(machine, self.cluster) else ", left untagged by an interrupted run (maas_lxd_vm adopts it)")
            kept[name] = {
                "index": index,
                "hostname": name,
                "vm_host": host.name if host else pod.get("name"),
                "vm_host_id": host.id if host else pod.get("id"),
                "zone": zone,
                "score": None,
                "reason": "exists in the cluster %s; kept where it is" % what,
                "existing": True,
                "system_id": (machine or {}).get("system_id"),
            }
        return kept, new_names

    @staticmethod
    def _lost_zones(hosts, kept, members):
        """The zones of existing VMs whose every host is unhealthy (offline), each with those hosts and the VMs in it.

        The VMs there keep their place in the plan (``lost_zone``: true); new VMs avoid the zone (the placement core
        rejects unhealthy hosts), and nothing of the zone is changed by the run.
        """
        by_zone = {}
        for host in hosts:
            by_zone.setdefault(host.zone, []).append(host)
        lost = []
        for zone in sorted(by_zone):
            zone_hosts = by_zone[zone]
            if any(host.healthy for host in zone_hosts):
                continue
            machines = []
            for item in sorted(kept.values(), key=lambda entry: entry["index"]):
                if item["zone"] != zone:
                    continue
                item["lost_zone"] = True
                machine = members.get(item["hostname"]) or {}
                machines.append({"hostname": item["hostname"], "system_id": item["system_id"], "vm_host": item["vm_host"],
                                 "status": machine.get("status_name"), "power_state": machine.get("power_state")})
            if machines:
                lost.append({"zone": zone, "hosts": [{"name": host.name, "reason": host.health_reason} for host in zone_hosts],
                             "machines": machines})
        return lost

    @staticmethod
    def _core_plan(hosts, request, not_lxd, context=""):
        """``plan(hosts, request)`` with its errors as lookup errors (``context`` prefixes an impossible plan's message)."""
        try:
            return plan(hosts, request)
        except PlacementError as exc:
            raise MaasPlanError(exc, not_lxd, context) from None
        except ValueError as exc:
            raise LxdcpError("MAAS reported data the placement core cannot use: %s" % exc) from None

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
            raise LxdcpError("\n".join([exc.summary] + rejection_lines(rejected))) from None
        placed, warnings = self._scheduled(ask, answer.get("placements") or [], [host.name for host in allowed], by_name, self.noun)
        self._check_room(ask, placed, by_name)
        warnings = ["lxd-multi-scheduler: %s" % to_text(w) for w in answer.get("warnings") or []] + warnings
        rejected = maas_rejected + _scheduler_rejections(answer.get("rejected"), by_name)
        return placed, rejected, warnings, answer.get("strategy")

    @staticmethod
    def _scheduled(ask, items, allowed_names, by_name, noun):
        """The scheduler's placements as the lookup's, and a warning for each that shares a host with the cluster."""
        if len(items) != ask.count:
            raise LxdcpError("lxd-multi-scheduler answered %d placement(s) for %d VM(s)" % (len(items), ask.count))
        placed, warnings = [], []
        for index, item in enumerate(items):
            host = by_name.get(item.get("host"))
            if host is None or host.name not in allowed_names:
                raise LxdcpError(
                    "the scheduler chose host %r, which is not one of the %ss it was allowed (%s); name the "
                    "scheduler's hosts after the %ss" % (item.get("host"), _maas(noun), ", ".join(allowed_names), _maas(noun)))
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
                                 "no %s can take one of the VMs, so lxd-multi-scheduler was not asked: " % _maas(self.noun))
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


class MaasPlanError(LxdcpError):
    """The request cannot be placed; the message names the tightest constraint and every rejected host.

    ``not_lxd`` are the rejections of VM hosts that are not LXD hosts, which the placement core never saw.
    """

    def __init__(self, error, not_lxd=(), context=""):
        lines = ["%s%s" % (context, error_message(error, VM))]
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


def lost_zone_line(lost, noun="VM host"):
    """``zone az1 is lost (every VM host unhealthy: ...): demo-cp-2 (abc123) Deployed, power error ...``."""
    machines = ", ".join("%s (%s) %s, power %s on %s" % (
        m["hostname"], m["system_id"], m["status"] or "unknown", m["power_state"] or "unknown", m["vm_host"])
        for m in lost["machines"])
    hosts = "; ".join("%s: %s" % (h["name"], h["reason"]) for h in lost["hosts"])
    return ("zone %s is lost (every %s in it is unhealthy - %s): %s; kept as they are, not changed by this run, "
            "new VMs go to the other zones" % (lost["zone"], noun, hosts, machines))


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


def _maas(noun):
    """"MAAS VM host" for a VM host (MAAS's object), the noun itself for an LXD host."""
    return "MAAS " + noun if noun == "VM host" else noun


def _name(obj):
    """``zone``/``pool`` come as nested objects with a name (or, in a few places, as plain names)."""
    if isinstance(obj, dict):
        return obj.get("name")
    return obj
