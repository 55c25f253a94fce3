# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's module base: the auth options, the task context, and the one place failures become failed results.

A module does::

    TASK = ModuleTask(lambda context: SomeRunner(context).run(), argument_spec=ARGUMENT_SPEC,
                      supports_check_mode=True)

    def main():
        TASK.main()

(its action plugin runs the same ``TASK`` in the controller's process when the task runs there). The runner gets a
:class:`TaskContext` (parameters, check and diff mode, the client, the log and warnings), returns the module result,
and raises :class:`LxdcpError` (carrying the result fields of the failure) when the task cannot be done:
:class:`MaasRun` turns it into the failed result (``fail_json`` in the module). With ``-vvv`` every result carries
``maas_log``, the requests (with attempt numbers, retry delays) and decisions of the run. No secret is ever logged.
"""

from __future__ import annotations

import copy
import time

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError, RequestError
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.api import MaasClient
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.connection import connect, token_secret
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.transport import IMPORT_ERROR, MISSING_LIBRARY

AUTH_ARGUMENT_SPEC = dict(
    url=dict(type="str", required=True, fallback=(env_fallback, ["MAAS_URL"])),
    api_key=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["MAAS_API_KEY"])),
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
    timeout=dict(type="int", default=30),
    retries=dict(type="int", default=5),
)

LOG_VERBOSITY = 3


def maas_argument_spec(**options):
    """The auth options plus the module's own ``options``."""
    spec = copy.deepcopy(AUTH_ARGUMENT_SPEC)
    spec.update(options)
    return spec


class MaasLog(object):
    """Collects troubleshooting lines, each prefixed with the seconds since the module started."""

    def __init__(self, clock=None):
        self._clock = clock or time.monotonic
        self._start = self._clock()
        self.lines = []

    def __call__(self, message):
        self.lines.append("+%.3fs %s" % (self._clock() - self._start, message))


class TaskContext(object):
    """What domain code sees of a module run; it has no way to end the run (it raises LxdcpError instead)."""

    def __init__(self, params, client_factory, check_mode=False, diff_mode=False, log=None, warn=None):
        self.params = params
        self.check_mode = check_mode
        self.diff_mode = diff_mode
        self.log = log or MaasLog()
        self._warn = warn
        self._client_factory = client_factory
        self._client = None

    def client(self):
        """The MAAS client of this run, built once; MaasConfigError on bad settings."""
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def warn(self, message):
        """A warning for the user, also logged."""
        self.log("warning: %s" % message)
        if self._warn is not None:
            self._warn(message)


class MaasRun(object):
    """One run of a module's task, wherever it runs: the context, the client and the result or the failure.

    ``MaasModule`` runs it in the module's process; the modules' action plugin (``plugin_utils/action.py``) runs it in
    the controller's process when the task runs on the controller. ``no_log_values`` is the set the result is masked
    with: the token secret of the API key joins it when the client is built.
    """

    def __init__(self, params, client_class, no_log_values, check_mode=False, diff_mode=False, verbose=False,
                 warn=None):
        self.params = params
        self.verbose = verbose
        self._client_class = client_class
        self._no_log_values = no_log_values
        self.context = TaskContext(params, self._connect, check_mode=check_mode, diff_mode=diff_mode, warn=warn)
        self.log = self.context.log

    def _connect(self):
        if MISSING_LIBRARY:
            raise LxdcpError(missing_required_lib(MISSING_LIBRARY), exception=str(IMPORT_ERROR))
        # The token secret alone would escape Ansible's masking of the whole api_key value.
        self._no_log_values.add(token_secret(self.params["api_key"]))
        return connect(self.params, logger=self.log, warn=self.context.warn, client_class=self._client_class)

    def outcome(self, task, **failure_result):
        """``(failed, result)``: what ``task(context)`` returned, or ``failure_result`` with the LxdcpError it raised."""
        try:
            return False, self.result(**task(self.context))
        except LxdcpError as exc:
            return True, self.failure(exc, **failure_result)

    def result(self, **result):
        """A successful result (with ``maas_log`` under -vvv)."""
        if self.verbose:
            result["maas_log"] = list(self.log.lines)
        return result

    def failure(self, exc, **result):
        """A failed result for an LxdcpError: ``msg``, its result fields, and ``error`` (status, request) for a request's."""
        result.update(exc.result)
        if isinstance(exc, RequestError):
            result.setdefault("error", exc.to_dict())
        return self.result(msg=str(exc), **result)


class MaasModule(object):
    """``AnsibleModule`` with the MAAS auth options, a lazily built client and ``maas_log`` in results."""

    # Unit tests replace this to put a fake transport under the client.
    client_class = MaasClient

    def __init__(self, argument_spec=None, **kwargs):
        self.module = AnsibleModule(argument_spec=maas_argument_spec(**(argument_spec or {})), **kwargs)
        self.params = self.module.params
        self._run = MaasRun(self.params, self.client_class, self.module.no_log_values,
                            check_mode=self.module.check_mode, diff_mode=bool(getattr(self.module, "_diff", False)),
                            verbose=getattr(self.module, "_verbosity", 0) >= LOG_VERBOSITY, warn=self.module.warn)
        self.context = self._run.context

    def run(self, task, **failure_result):
        """``task(context)`` returns the result; an LxdcpError becomes ``fail_json`` with ``failure_result`` and its own."""
        try:
            result = self._run.result(**task(self.context))
        except LxdcpError as exc:
            # Inside the except block: with tracebacks shown (ansible-core 2.19), the failure carries the error's own.
            self.module.fail_json(**self._run.failure(exc, **failure_result))
        self.module.exit_json(**result)


class ModuleTask(object):
    """A module of the collection as it is run: its ``AnsibleModule`` arguments (without the auth options), its task
    (``task(context)`` returns the result) and the fields its failed result carries.

    The module's ``main()`` runs it in the module's process; the modules' action plugin runs the same in the
    controller's process when the task runs there.
    """

    def __init__(self, task, argument_spec, failure_result=None, **module_kwargs):
        self.task = task
        self.argument_spec = argument_spec
        self.failure_result = dict(failure_result or {})
        self.module_kwargs = module_kwargs

    def main(self):
        """The module's entry point."""
        MaasModule(argument_spec=self.argument_spec, **self.module_kwargs).run(self.task, **self.failure_result)
