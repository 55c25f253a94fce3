# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lxdcp.maas.provider_ids documentation fragment: how the modules and the inventory write provider IDs."""

from __future__ import annotations


class ModuleDocFragment(object):
    """The provider ID option of the modules that return machines (``maas_lxd_vm``, ``maas_machine_info``) and of the inventory."""

    DOCUMENTATION = r"""
options:
  vm_provider_id_scheme:
    description:
      - The scheme of the provider IDs returned for LXD VMs.
      - Provider IDs have the shape cluster-api-provider-maas (CAPMAAS) writes, C(<scheme>:///<zone>/<system_id>)
        (three slashes, an empty authority). A bare-metal machine's is always C(maas:///<zone>/<system_id>), exactly as
        CAPMAAS writes it.
      - V(maas-lxd) - an LXD VM's is C(maas-lxd:///<zone>/<system_id>), so that VMs and bare metal are told apart.
      - V(maas) - an LXD VM's is C(maas:///<zone>/<system_id>) too, as CAPMAAS writes it for its own LXD VMs; for a
        cluster that CAPMAAS will manage later.
      - The provider ID is computed from MAAS's machine (zone and system id) each time; it is not stored in MAAS, so
        changing this option changes only what is returned, never a machine.
    type: str
    choices: [maas-lxd, maas]
    default: maas-lxd
"""
