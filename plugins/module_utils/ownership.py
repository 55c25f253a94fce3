# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ownership: which machines are lxdcp.maas's, and of which cluster (docs/design.md, "Ownership").

Machines the collection creates carry :data:`MANAGED_TAG`, plus ``lxdcp-cluster-<cluster>`` when
they belong to a cluster; destructive steps act only on machines that carry them. Pure functions
over MAAS's machine objects.

LXD instances the collection creates itself (MAAS without VM hosts) carry the same facts as
``user.*`` config keys, which LXD stores and returns untouched: :data:`LXD_MANAGED_KEY` ``"true"``,
:data:`LXD_CLUSTER_KEY` and :data:`LXD_HOSTNAME_KEY`. An instance without them is someone else's.
"""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils.machines import is_vm
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.states import JUST_COMPOSED

MANAGED_TAG = "lxdcp-managed"
CLUSTER_TAG_PREFIX = "lxdcp-cluster-"
#: The comment of the ownership tags lxdcp.maas creates; only a cluster tag carrying it is deleted with the cluster.
OWNERSHIP_COMMENT = "lxdcp.maas ownership"

#: The tag that marks a worker of a cluster; a machine of a cluster without it belongs to the control plane, the group
#: every cluster has (``playbooks/control_plane.yml``: groups ``control_plane`` and ``workers``).
WORKER_TAG = "lxdcp-worker"
CONTROL_PLANE = "control-plane"
WORKER = "worker"

LXD_MARK_PREFIX = "user.lxdcp."
LXD_MANAGED_KEY = LXD_MARK_PREFIX + "managed"
LXD_CLUSTER_KEY = LXD_MARK_PREFIX + "cluster"
LXD_HOSTNAME_KEY = LXD_MARK_PREFIX + "hostname"


def cluster_tag(cluster):
    """The ownership tag of ``cluster``."""
    return CLUSTER_TAG_PREFIX + cluster


def owner_tags(cluster=None):
    """The tags that make a machine lxdcp.maas's (and ``cluster``'s)."""
    return [MANAGED_TAG] + ([cluster_tag(cluster)] if cluster else [])


def lxdcp_tags(machine):
    """The lxdcp ownership tags the machine carries (of any cluster)."""
    return [t for t in machine.get("tag_names") or [] if t == MANAGED_TAG or t.startswith(CLUSTER_TAG_PREFIX)]


def ownership(machine):
    """``(managed, cluster)`` from the machine's tags (the first cluster by name when it has several)."""
    tags = machine.get("tag_names") or []
    clusters = sorted(t[len(CLUSTER_TAG_PREFIX):] for t in tags if t.startswith(CLUSTER_TAG_PREFIX))
    return MANAGED_TAG in tags, (clusters[0] if clusters else None)


def clusters_of(machine):
    """Every cluster whose tag the machine carries."""
    return [t[len(CLUSTER_TAG_PREFIX):] for t in machine.get("tag_names") or [] if t.startswith(CLUSTER_TAG_PREFIX)]


def machine_role(machine):
    """:data:`WORKER` for a machine carrying :data:`WORKER_TAG`, else :data:`CONTROL_PLANE`."""
    return WORKER if WORKER_TAG in (machine.get("tag_names") or []) else CONTROL_PLANE


def role_tags(role):
    """The tags that mark a machine of ``role`` (:data:`CONTROL_PLANE` carries none: it is every cluster's default)."""
    return [WORKER_TAG] if role == WORKER else []


def is_owned(machine, cluster=None):
    """Whether the machine carries every ownership tag of ``cluster`` (or :data:`MANAGED_TAG` without one)."""
    tags = machine.get("tag_names") or []
    return all(tag in tags for tag in owner_tags(cluster))


def half_tagged(machine, cluster=None):
    """Whether the machine carries no lxdcp tag, or only ``cluster``'s tag: its tagging (or untagging) was interrupted.

    Tags are added cluster tag first and removed in the other order (``maas_lxd_vm``), so a machine
    with the cluster tag alone is one a run of this cluster's task was tagging or untagging.
    """
    return all(tag in owner_tags(cluster)[1:] for tag in lxdcp_tags(machine))


def left_untagged_vm(machine, cluster=None):
    """Whether ``machine`` is a VM a run of ``cluster``'s task composed and could not tag (it died in between).

    A composed VM (``pod`` set) owned by nobody, New, Commissioning or Ready, carrying no other lxdcp tag.
    ``maas_lxd_vm`` adopts such a VM (tags it) and the lookup counts it as the cluster's, so a re-run keeps
    it where it is.
    """
    return (half_tagged(machine, cluster) and is_vm(machine) and not machine.get("owner")
            and machine.get("status_name") in JUST_COMPOSED)


def of_cluster(machine, cluster):
    """Whether ``machine`` is ``cluster``'s: it carries the ownership tags, or it is a VM left untagged (above)."""
    return is_owned(machine, cluster) or left_untagged_vm(machine, cluster)


#: MAAS's VM host (pod) types: ``lxd`` and ``virsh`` (``maasserver/forms/pods.py``). A bare-metal allocation excludes
#: them with ``not_pod_type``, which MAAS matches against the machine's BMC power type (``bmc__power_type``): it leaves
#: out VMs composed on VM hosts, LXD VMs registered by hand or by direct mode (``power_type: lxd``) and virsh-powered
#: machines, and stops MAAS composing a VM when no machine matches (``get_allocated_composed_machine``).
VM_POD_TYPES = ("lxd", "virsh")


def allocation_exclusions(tag_names, pod_constraints=True):
    """The ``op=allocate`` constraints that keep a bare-metal allocation off machines it must never take.

    ``not_tags``: :data:`MANAGED_TAG` and every cluster tag among ``tag_names`` (the tags MAAS has): a machine of any
    cluster of lxdcp.maas, even one it was tagging or untagging when it stopped (a cluster tag alone).
    ``not_pod_type`` (:data:`VM_POD_TYPES`): no VM, tagged yet or not - a composed VM is an ordinary Ready machine once
    commissioned, and MAAS cannot tag it at compose time. MAAS 4.0 has no VM hosts and no ``pod`` constraints (it
    answers ``No such constraint.``): ``pod_constraints=False`` leaves them out.
    """
    not_tags = [MANAGED_TAG] + sorted(t for t in set(tag_names) if t.startswith(CLUSTER_TAG_PREFIX))
    exclusions = {"not_tags": not_tags}
    if pod_constraints:
        exclusions["not_pod_type"] = list(VM_POD_TYPES)
    return exclusions


def instance_marks(cluster=None, hostname=None):
    """The ``user.lxdcp.*`` config keys that make an LXD instance lxdcp.maas's (and ``cluster``'s, named ``hostname``)."""
    marks = {LXD_MANAGED_KEY: "true"}
    if cluster:
        marks[LXD_CLUSTER_KEY] = cluster
    if hostname:
        marks[LXD_HOSTNAME_KEY] = hostname
    return marks


def instance_ownership(instance):
    """``(managed, cluster)`` from an LXD instance's config (``config``, as LXD returns the instance)."""
    config = instance.get("config") or {}
    return config.get(LXD_MANAGED_KEY) == "true", config.get(LXD_CLUSTER_KEY) or None


def instance_is_owned(instance, cluster=None):
    """Whether the LXD instance carries lxdcp.maas's marks (and ``cluster``'s, when given)."""
    managed, owner = instance_ownership(instance)
    return managed and (cluster is None or owner == cluster)
