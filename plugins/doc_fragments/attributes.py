# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lxdcp.maas.attributes documentation fragments: attributes shared by several modules."""

from __future__ import annotations


class ModuleDocFragment(object):
    """``lxdcp.maas.attributes.info_module``: a module that only reads MAAS (used with ansible.builtin.action_common_attributes);
    ``lxdcp.maas.attributes.action``: where every module's task runs (used with ansible.builtin.action_common_attributes.flow)."""

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

    ACTION = r"""
options: {}
attributes:
  action:
    support: full
    details:
      - A task that runs on the controller (the local connection, as the roles' tasks delegated to localhost) runs in the
        controller's process, without starting a module, with the same arguments, checks and result.
      - A task on another host, with C(become), C(async), an C(environment) or an C(ansible_python_interpreter) other
        than the controller's Python, runs as the module there (so does a task when the controller's Python lacks the
        requirements).
  async:
    support: full
    details: The task runs as the module.
  bypass_host_loop:
    support: none
"""
