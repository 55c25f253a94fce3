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

The arguments are first encoded and decoded as JSON, as they are for a module (vaulted values decrypted, Ansible's
string types plain), so that validation, messages and masking see what the module would see.

Everything else runs the module as Ansible always does (``ansible.builtin.normal``): another connection (a task
delegated to a bastion), ``become``, ``async``, an ``environment`` for the task, an ``ansible_python_interpreter`` (or
``interpreter_python`` setting) naming another Python than the controller's, or a controller Python without the
collection's requirements (requests, requests-oauthlib, netaddr: then the module reports them where it runs).
"""

from __future__ import annotations

import json
import os
import sys
import traceback

from ansible import constants as C
from ansible.module_utils.common import json as ansible_json
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError
from ansible.plugins.action.normal import ActionModule as NormalAction
from ansible.utils.display import Display

from ansible_collections.lxdcp.maas.plugins.module_utils.ipaddr import HAS_NETADDR
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.api import MaasClient
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.transport import MISSING_LIBRARY
from ansible_collections.lxdcp.maas.plugins.module_utils.module import LOG_VERBOSITY, MaasRun, maas_argument_spec

display = Display()

# Interpreter settings that leave the choice to discovery: the controller's own Python is one a module could run as.
_DISCOVERY = ("auto", "auto_silent", "auto_legacy", "auto_legacy_silent")

# The AnsibleModule arguments that constrain the options (the rest, supports_check_mode, are about the module).
_CONSTRAINTS = ("mutually_exclusive", "required_together", "required_one_of", "required_if", "required_by")


class ModuleTaskAction(NormalAction):
    """Runs ``TASK`` (the module's ``ModuleTask``) here when the task runs on the controller, else the module."""

    TASK = None

    # Unit tests replace this to put a fake transport under the client.
    client_class = MaasClient

    def run(self, tmp=None, task_vars=None):
        if not self._runs_on_controller(task_vars or {}):
            return super(ModuleTaskAction, self).run(tmp, task_vars)
        result = super(NormalAction, self).run(tmp, task_vars)
        no_log_values = set()
        try:
            args = module_args(self._task.args)
            # Masked even if validation cannot tell (a failure before it reads the spec's no_log).
            if isinstance(args.get("api_key"), str) and args["api_key"]:
                no_log_values.add(args["api_key"])
            result.update(self._run_task(args, no_log_values))
        except Exception as exc:  # pylint: disable=broad-except
            # A bug, not a MAAS answer: failed like a module that crashed, without a secret in the message.
            result.update(failed=True, msg="%s failed: %s: %s" % (self._task.action, type(exc).__name__, exc),
                          exception=traceback.format_exc())
        return remove_values(result, no_log_values)

    def _runs_on_controller(self, task_vars):
        """Whether the task's module would run on the controller, as the controller's Python, with nothing around it."""
        return (getattr(self._connection, "transport", None) == "local" and not self._play_context.become
                and not self._task.async_val and not any(self._task.environment or ())
                and not MISSING_LIBRARY and HAS_NETADDR and self._python_is_this_one(task_vars))

    def _python_is_this_one(self, task_vars):
        """Whether the module would run as this Python: its interpreter setting names it, or leaves it to discovery."""
        variables = task_vars
        if self._task.delegate_to:
            variables = (task_vars.get("ansible_delegated_vars") or {}).get(self._task.delegate_to) or task_vars
        configured = C.config.get_config_value("INTERPRETER_PYTHON", variables=variables)
        interpreter = self._templar.template(configured) if configured else configured
        return not interpreter or interpreter in _DISCOVERY or same_python(interpreter, sys.executable)

    def _run_task(self, args, no_log_values):
        task = self.TASK
        validator = ArgumentSpecValidator(
            maas_argument_spec(**task.argument_spec),
            **dict((name, task.module_kwargs[name]) for name in _CONSTRAINTS if name in task.module_kwargs))
        validation = validator.validate(args)
        no_log_values.update(validation._no_log_values)
        params = validation.validated_parameters
        warnings = ["Both option {option} and its alias {alias} are set.".format(**w) for w in validation._warnings]
        deprecations = [dict((k, v) for k, v in d.items() if v is not None) for d in validation._deprecations]

        def reported(**result):
            """``result`` with the warnings and deprecations, as AnsibleModule reports them (also on a failed validation)."""
            result.update((key, value) for key, value in (("warnings", warnings), ("deprecations", deprecations)) if value)
            return result

        if validation.error_messages:
            msg = validation.errors.msg
            if isinstance(validation.errors[0], UnsupportedError):
                msg = "Unsupported parameters for (%s) module: %s" % (self._task.action, msg)
            return reported(failed=True, msg=msg, invocation=dict(module_args=params))
        if self._task.check_mode and not task.module_kwargs.get("supports_check_mode"):
            return reported(skipped=True, msg="remote module (%s) does not support check mode" % self._task.action)
        run = MaasRun(params, self.client_class, no_log_values, check_mode=bool(self._task.check_mode),
                      diff_mode=bool(self._task.diff), verbose=display.verbosity >= LOG_VERBOSITY, warn=warnings.append)
        failed, result = run.outcome(task.task, **task.failure_result)
        if failed:
            result["failed"] = True
        return reported(invocation=dict(module_args=params), **result)


def module_args(args):
    """The task's arguments as a module receives them: through JSON, with vaulted values decrypted."""
    if hasattr(ansible_json, "get_module_encoder"):  # ansible-core 2.19 and later
        encoder = ansible_json.get_module_encoder("legacy", ansible_json.Direction.CONTROLLER_TO_MODULE)
        text = json.dumps(args, cls=encoder)
    else:  # ansible-core 2.17, 2.18
        text = json.dumps(args, cls=ansible_json.AnsibleJSONEncoder, vault_to_text=True)
    return json.loads(text)


def same_python(path, other):
    """Whether two interpreter paths run one Python with one environment: the same file in the same directory.

    (``venv/bin/python`` and ``venv/bin/python3`` are; ``venv/bin/python`` and the base Python it links to are not: a
    virtualenv is found from the directory the interpreter is started from.)
    """
    path, other = os.path.abspath(path), os.path.abspath(other)
    return os.path.dirname(path) == os.path.dirname(other) and os.path.realpath(path) == os.path.realpath(other)
