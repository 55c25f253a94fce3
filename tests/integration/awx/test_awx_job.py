"""The AWX run path: the main job ``lxdcp.maas.control_plane`` run by ansible-runner as AWX runs a job template.

The credential comes from ``extensions/awx/credential_type.yml``: its injectors are rendered from the credential's
inputs (``awxjob.render_injectors``) into the job's environment; the inventory is ``playbooks/inventory/demo.yml`` and
the job template's extra vars name another cluster. The job runs twice against maas-sim; the job events say what
AWX would show: success, the changed counts of ``playbook_on_stats``, and no part of the API key anywhere.
"""

from __future__ import annotations

import json
import os
import secrets

import yaml

from simharness import SimServer  # pylint: disable=import-error

from ansible_collections.lxdcp.maas.plugins.module_utils.maas.api import MaasClient
from ansible_collections.lxdcp.maas.tests.integration.awx.awxjob import (
    HIDDEN,
    ROOT,
    credential_type,
    render_injectors,
    run_job,
    stats,
    write_private_data_dir,
)

HOSTS = ["demo-cp-1", "demo-cp-2", "demo-cp-3"]


def _demo_inventory():
    with open(os.path.join(ROOT, "playbooks", "inventory", "demo.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _leaks(runner, parts):
    """``[(where, part)]`` for every secret part found in a job event or in the job's stdout."""
    found = []
    for event in runner.events:
        text = json.dumps(event)
        found += [("event %s %s" % (event.get("counter"), event.get("event")), part) for part in parts if part in text]
    with open(os.path.join(runner.config.artifact_dir, "stdout"), encoding="utf-8", errors="replace") as handle:
        stdout = handle.read()
    found += [("stdout", part) for part in parts if part in stdout]
    return found, stdout


def test_control_plane_job_as_awx_runs_it(sim_factory, tmp_path):
    consumer, token, secret = secrets.token_hex(9), secrets.token_hex(9), secrets.token_hex(16)
    api_key = "%s:%s:%s" % (consumer, token, secret)
    sim = sim_factory(api_key=api_key, timings=SimServer.FAST_TIMINGS)

    definition = credential_type()
    env, safe_env, extra_vars = render_injectors(definition, {"url": sim.url, "api_key": api_key})
    assert env == {"MAAS_URL": sim.url, "MAAS_API_KEY": api_key}
    assert safe_env == {"MAAS_URL": sim.url, "MAAS_API_KEY": HIDDEN}  # what AWX stores and shows of the job's environment
    extra_vars.update(lxdcp_cluster="awx")  # the job template's extra vars (they win over the inventory's)

    data_dir = str(tmp_path / "job")
    write_private_data_dir(data_dir, "lxdcp.maas.control_plane", _demo_inventory(), env, extra_vars)
    parts = [api_key, consumer, token, secret]

    # Launch: the control plane comes up.
    first = run_job(data_dir, "1", verbosity=3)
    assert (first.status, first.rc) == ("successful", 0), first.stdout.read()[-3000:]
    summary = stats(first)
    assert summary["failures"] == {} and summary["dark"] == {}, summary
    assert all(summary["changed"].get(host, 0) > 0 for host in HOSTS), summary["changed"]
    assert set(HOSTS) <= set(summary["ok"]), summary["ok"]
    leaks, stdout = _leaks(first, parts)
    assert leaks == []
    # The search had something to search: every task's events, the job's output at -vvv with the modules' request logs.
    assert len(list(first.events)) > 100
    assert "awx-api.maas" in stdout and "maas_log" in stdout

    # What MAAS holds: the extra vars' cluster, deployed.
    maas = MaasClient(sim.url, api_key)
    machines = maas.list_machines(tags=["lxdcp-cluster-awx"])
    assert sorted(machine["hostname"] for machine in machines) == HOSTS
    assert {machine["status_name"] for machine in machines} == {"Deployed"}

    # Relaunch: nothing changes.
    second = run_job(data_dir, "2", verbosity=3)
    assert (second.status, second.rc) == ("successful", 0), second.stdout.read()[-3000:]
    summary = stats(second)
    assert summary["failures"] == {} and summary["dark"] == {}, summary
    assert sum(summary["changed"].values()) == 0, summary["changed"]
    assert set(HOSTS) <= set(summary["ok"]), summary["ok"]
    assert _leaks(second, parts)[0] == []


def test_credential_inputs_are_checked_like_awx():
    definition = credential_type()
    assert definition["kind"] == "cloud"
    assert [field["id"] for field in definition["inputs"]["fields"] if field.get("secret")] == ["api_key"]
    for inputs in ({"url": "http://maas:5240/MAAS"}, {"url": "http://maas:5240/MAAS", "api_key": "a:b:c", "token": "x"}):
        try:
            render_injectors(definition, inputs)
        except ValueError:
            continue
        raise AssertionError("accepted %s" % inputs)
