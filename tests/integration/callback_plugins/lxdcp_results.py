# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test callback: write every task result of a playbook run to a JSON file.

The integration tests read it (``tests/integration/playbook_runner.py``) instead of parsing screen output;
ansible-core 2.19 no longer ships a JSON stdout callback.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: lxdcp_results
type: aggregate
short_description: Write task results to the JSON file named by LXDCP_RESULTS_FILE (tests only)
description:
  - Records, per task, the task name, the host, the status and the module result, then the play stats.
requirements:
  - enabled with ANSIBLE_CALLBACKS_ENABLED=lxdcp_results and ANSIBLE_CALLBACK_PLUGINS pointing here
"""

import json
import os

from ansible.plugins.callback import CallbackBase
from ansible.vars.clean import module_response_deepcopy, strip_internal_keys


class CallbackModule(CallbackBase):
    """Collects results; writes them when the playbook ends."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "lxdcp_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.tasks = []

    def _record(self, result, status):
        data = strip_internal_keys(module_response_deepcopy(result._result))  # pylint: disable=protected-access
        data.setdefault("changed", False)
        if status == "failed":
            data["failed"] = True
        self.tasks.append({
            "task": result.task_name,
            "action": result._task.action,  # pylint: disable=protected-access
            "host": result._host.get_name(),  # pylint: disable=protected-access
            "status": status,
            "result": data,
        })

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("LXDCP_RESULTS_FILE")
        if not path:
            return
        summary = dict((host, stats.summarize(host)) for host in sorted(stats.processed))
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"tasks": self.tasks, "stats": summary}, handle, default=str, indent=1)
