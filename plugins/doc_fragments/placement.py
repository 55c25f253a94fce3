# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lxdcp.maas.placement documentation fragment: where VMs may go, for maas_lxd_vm and the maas_placement lookup."""

from __future__ import annotations


class ModuleDocFragment(object):
    """Placement options: one name per idea in the module and the lookup (see docs/placement.md)."""

    DOCUMENTATION = r"""
options:
  zones:
    description:
      - Availability zones the VMs may go to; the VMs of the cluster are spread evenly over them, counting the ones
        that already exist.
      - Not set, any zone; the cluster then spreads over every zone that has a suitable host.
      - A zone MAAS does not have is an error, found before anything is changed.
    type: list
    elements: str
  pool:
    description:
      - Resource pool. Only VM hosts of this pool are used (a composed VM is put in it too).
    type: str
  host_tags:
    description:
      - Tags the VM host must carry (all of them).
    type: list
    elements: str
  strategy:
    description:
      - How the placement core ranks the hosts that pass the filters and keep the cluster's zones balanced.
      - V(most-free) prefers the host with the most free cores and memory relative to the VM's size;
        V(least-allocated-cpu) the one with the fewest allocated cores; V(balanced) the one whose CPU and memory
        use stay closest to each other after placement.
    type: str
    choices: [most-free, least-allocated-cpu, balanced]
"""
