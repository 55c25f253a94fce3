# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""maas_static_ip runs in the controller's process when its task runs on the controller (plugin_utils/action.py)."""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.modules.maas_static_ip import TASK
from ansible_collections.lxdcp.maas.plugins.plugin_utils.action import ModuleTaskAction


class ActionModule(ModuleTaskAction):
    """The maas_static_ip module, run here when its task runs on the controller."""

    TASK = TASK
