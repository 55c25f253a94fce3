# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja2 filter over the settings the provision, deploy and release roles share: their checks, once, in Python.

Documented in the sidecar file setting_problems.yml next to this one. The checks are those of the roles' own first task
(plugin_utils/role_inputs.py, the action lxdcp.maas.validate_role_inputs): names by the rules of module_utils/names.py
(the modules' rules); the MAAS API key only for being set, it is never part of a message or an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.lxdcp.maas.plugins.plugin_utils.role_inputs import SETTINGS, shared_problems


def _failed(check, role):
    """Whether a role's own check ``{ok, msg}`` failed (``ok`` as a template renders it: a boolean or its text)."""
    if not isinstance(check, Mapping) or "ok" not in check or "msg" not in check:
        raise AnsibleFilterError("lxdcp.maas.setting_problems: each check of the %s role must be a dictionary with ok and "
                                 "msg" % role)
    try:
        return not boolean(check["ok"], strict=True)
    except TypeError:
        raise AnsibleFilterError("lxdcp.maas.setting_problems: ok of the %s role's check %r must be true or false"
                                 % (role, check["msg"])) from None


def setting_problems(settings, role, checks=None, cluster_note=""):
    """The filter ``lxdcp.maas.setting_problems``: what is wrong with a role's shared settings, as messages.

    ``settings`` has the role's values of cluster, hostname, mode, vm_provider_id_scheme, maas_url and maas_api_key;
    ``role`` is its variable prefix (provision, deploy, release), named in the messages; ``checks`` are the role's own
    ``{ok, msg}`` checks, reported after the identity checks and before the connection checks; ``cluster_note`` says
    what the cluster name is for. Returns an empty list when every check holds.
    """
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError("lxdcp.maas.setting_problems: the input must be a dictionary of the settings %s"
                                 % ", ".join(SETTINGS))
    missing = [name for name in SETTINGS if name not in settings]
    if missing:
        raise AnsibleFilterError("lxdcp.maas.setting_problems: the input lacks %s" % ", ".join(missing))
    if not isinstance(role, str) or not role:
        raise AnsibleFilterError("lxdcp.maas.setting_problems: role must be the role's variable prefix (provision, "
                                 "deploy or release)")
    checks = [] if checks is None else checks
    if isinstance(checks, (str, bytes, Mapping)) or not isinstance(checks, Sequence):
        raise AnsibleFilterError("lxdcp.maas.setting_problems: checks must be a list of {ok, msg} dictionaries")
    return shared_problems(settings, role, [str(check["msg"]) for check in checks if _failed(check, role)],
                           cluster_note=cluster_note)


class FilterModule(object):
    """The filter ``lxdcp.maas.setting_problems``."""

    def filters(self):
        return {"setting_problems": setting_problems}
