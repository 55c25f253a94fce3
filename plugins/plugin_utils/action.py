# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The modules' action plugin: a task that runs on the controller runs its module's task in the controller's process.

Every request of the collection's modules goes to MAAS or LXD over HTTP, so where the module runs only matters for
which machine sends the requests. On the controller (the local connection: the roles delegate every MAAS task to
localhost) starting a Python process per task and host costs ~0.4 s of the controller's CPU before the first request
(interpreter start, the module's payload, imports); the action plugin runs the same ``ModuleTask`` in the worker that
Ansible forked for the task instead: the same argument validation (``ArgumentSpecValidator``, the module's spec and
constraints), the same task code, the same result, masked with the same no_log values.

Everything else runs the module as Ansible always does (``ansible.builtin.normal``): another connection (a task
delegated to a bastion), ``become``, ``async``, an ``environment`` for the task, or a controller Python without the
collection's requirements (then the module reports them as missing where it runs).
"""

from __future__ import annotations

import traceback

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError
from ansible.plugins.action.normal import ActionModule as NormalAction
from ansible.utils.display import Display

from ansible_collections.lxdcp.maas.plugins.module_utils.maas.api import MaasClient
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.transport import MISSING_LIBRARY
from ansible_collections.lxdcp.maas.plugins.module_utils.module import LOG_VERBOSITY, MaasRun, maas_argument_spec

display = Display()

# The AnsibleModule arguments that constrain the options (the rest, supports_check_mode, are about the module).
_CONSTRAINTS = ("mutually_exclusive", "required_together", "required_one_of", "required_if", "required_by")


class ModuleTaskAction(NormalAction):
    """Runs ``TASK`` (the module's ``ModuleTask``) here when the task runs on the controller, else the module."""

    TASK = None

    # Unit tests replace this to put a fake transport under the client.
    client_class = MaasClient

    def run(self, tmp=None, task_vars=None):
        if not self._runs_on_controller():
            return super(ModuleTaskAction, self).run(tmp, task_vars)
        result = super(NormalAction, self).run(tmp, task_vars)
        no_log_values = set()
        try:
            result.update(self._run_task(no_log_values))
        except Exception as exc:  # pylint: disable=broad-except
            # A bug, not a MAAS answer: failed like a module that crashed, without a secret in the message.
            result.update(failed=True, msg="%s failed: %s: %s" % (self._name(), type(exc).__name__, exc),
                          exception=traceback.format_exc())
        return remove_values(result, no_log_values)

    def _name(self):
        return self._task.action.split(".")[-1]

    def _runs_on_controller(self):
        """Whether the task's module would run on the controller, as the controller's Python, with nothing around it."""
        return (getattr(self._connection, "transport", None) == "local" and not self._play_context.become
                and not self._task.async_val and not any(self._task.environment or ()) and not MISSING_LIBRARY)

    def _run_task(self, no_log_values):
        task = self.TASK
        validator = ArgumentSpecValidator(
            maas_argument_spec(**task.argument_spec),
            **dict((name, task.module_kwargs[name]) for name in _CONSTRAINTS if name in task.module_kwargs))
        validation = validator.validate(dict(self._task.args))
        no_log_values.update(validation._no_log_values)
        params = validation.validated_parameters
        if validation.error_messages:
            msg = validation.errors.msg
            if isinstance(validation.errors[0], UnsupportedError):
                msg = "Unsupported parameters for (%s) module: %s" % (self._name(), msg)
            return dict(failed=True, msg=msg, invocation=dict(module_args=params))
        warnings = ["Both option {option} and its alias {alias} are set.".format(**w) for w in validation._warnings]
        run = MaasRun(params, self.client_class, no_log_values, check_mode=bool(self._task.check_mode),
                      diff_mode=bool(self._task.diff), verbose=display.verbosity >= LOG_VERBOSITY, warn=warnings.append)
        failed, result = run.outcome(task.task, **task.failure_result)
        if failed:
            result["failed"] = True
        result["invocation"] = dict(module_args=params)
        if warnings:
            result["warnings"] = warnings
        if validation._deprecations:
            result["deprecations"] = [dict((k, v) for k, v in d.items() if v is not None) for d in validation._deprecations]
        return result
