# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""validate_role_inputs: a role's argument spec and the checks of its values, in one task (plugin_utils/role_inputs.py)."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.lxdcp.maas.plugins.plugin_utils.role_inputs import (
    PROVIDER_ID_SCHEME_VAR, ROLES, argument_spec, role_path, role_problems,
)


class ActionModule(ActionBase):
    """Validate the role's variables against its argument spec as Ansible does for a role, then check their values."""

    TRANSFERS_FILES = False
    _requires_connection = False
    # The task's own arguments (plugins/modules/validate_role_inputs.py documents them).
    ARGUMENT_SPEC = dict(
        role=dict(type="str", required=True, choices=sorted(ROLES)),
        entry_point=dict(type="str", default="main"),
    )

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)[1]
        role, entry_point = args["role"], args["entry_point"]
        spec = argument_spec(role, entry_point)
        if spec is None:
            raise AnsibleActionFail("the %s role has no entry point %r" % (role, entry_point))

        # Each variable rendered once: the values the spec validates are those the checks read.
        names = [name for name in list(spec) + [PROVIDER_ID_SCHEME_VAR] if name in task_vars]
        values = self._templar.template({name: task_vars[name] for name in names})
        arguments = {name: value for name, value in values.items() if name in spec}
        errors = ArgumentSpecValidator(spec).validate(arguments, validate_role_argument_spec=True).error_messages
        result["validate_args_context"] = {"type": "role", "name": role, "argument_spec_name": entry_point,
                                           "path": role_path(role)}
        if errors:
            # As Ansible's own validation of a role's arguments reports them.
            result.update(failed=True, msg="Validation of arguments failed:\n%s" % "\n".join(errors),
                          argument_errors=errors, argument_spec_data=spec)
            return result
        problems = role_problems(role, values)
        if problems:
            result.update(failed=True, msg="%s: %s" % (task_vars.get("inventory_hostname"), "; ".join(problems)),
                          problems=problems)
            return result
        result.update(changed=False, msg="The inputs of the %s role are valid" % role)
        return result
