# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lxdcp.maas.attributes documentation fragments: attributes shared by several modules."""

from __future__ import annotations


class ModuleDocFragment(object):
    """``lxdcp.maas.attributes.info_module``: a module that only reads MAAS (used with ansible.builtin.action_common_attributes)."""

    DOCUMENTATION = r"""
options: {}
"""

    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: The module only reads MAAS; it runs the same in check mode.
  diff_mode:
    support: N/A
    details: The module changes nothing.
  platform:
    platforms: all
"""
