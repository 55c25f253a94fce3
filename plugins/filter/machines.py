# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja2 filters over machines: the rules of module_utils/machines.py, once, for the roles.

Documented in the sidecar file preferred_address.yml next to this one.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.lxdcp.maas.plugins.module_utils.machines import preferred_address as _preferred_address


def preferred_address(machine, preferred_subnets=None, planned=None):
    """The filter ``lxdcp.maas.preferred_address``: the checks of its arguments, then ``machines.preferred_address``."""
    # No machine yet: none, or the empty string ansible-core before 2.19 makes of a variable templated to none.
    if not machine:
        machine = None
    elif not isinstance(machine, Mapping):
        raise AnsibleFilterError("lxdcp.maas.preferred_address: the input must be a machine (a dictionary, as "
                                 "maas_machine_info or maas_lxd_vm return it) or none, not %s" % type(machine).__name__)
    if preferred_subnets is None:
        preferred_subnets = []
    if isinstance(preferred_subnets, (str, bytes, Mapping)) or not isinstance(preferred_subnets, (list, tuple)):
        raise AnsibleFilterError("lxdcp.maas.preferred_address: preferred_subnets must be a list of CIDRs, not %s %r"
                                 % (type(preferred_subnets).__name__, preferred_subnets))
    bad = [cidr for cidr in preferred_subnets if not isinstance(cidr, str)]
    if bad:
        raise AnsibleFilterError("lxdcp.maas.preferred_address: preferred_subnets must be a list of CIDRs (strings); "
                                 "%r is not" % (bad[0],))
    if planned is not None and not isinstance(planned, str):
        raise AnsibleFilterError("lxdcp.maas.preferred_address: planned must be an IP address (a string) or none, not "
                                 "%s %r" % (type(planned).__name__, planned))
    return _preferred_address(machine, [str(cidr) for cidr in preferred_subnets], str(planned) if planned else None)


class FilterModule(object):
    """The filter ``lxdcp.maas.preferred_address``."""

    def filters(self):
        return {"preferred_address": preferred_address}
