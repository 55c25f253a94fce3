"""Fixtures of the lookup integration tests: ansible-playbook on localhost against maas-sim.

``plan(sim=None, terms=..., verbosity=0, **options)`` evaluates the lookup in a debug task of a
playbook and returns ``(plan, PlaybookResult)``; ``failure(...)`` does the same for a lookup that
must fail and returns the task's message. The runner is the module tests' ``Playbook``.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import Playbook


def _task(sim, terms, options):
    options = dict(options, url=sim.url, api_key=sim.api_key)
    arguments = ", ".join([json.dumps(term) for term in terms] + ["%s=%s" % (key, json.dumps(value)) for key, value in options.items()])
    return {"name": "plan", "ansible.builtin.debug": {"msg": "{{ lookup('lxdcp.maas.maas_placement', %s) }}" % arguments}}


@pytest.fixture
def lookup_run(maas_sim, tmp_path):
    """``lookup_run(terms, sim=None, verbosity=0, **options)`` -> PlaybookResult of one debug task."""
    runners = {}

    def run(terms=(), sim=None, verbosity=0, **options):
        sim = sim or maas_sim
        if id(sim) not in runners:
            workdir = tmp_path / ("sim%d" % len(runners))
            workdir.mkdir()
            runners[id(sim)] = Playbook(sim, workdir)
        return runners[id(sim)].run([_task(sim, terms, options)], auth=False, verbosity=verbosity)

    return run


@pytest.fixture
def plan(lookup_run):
    """``plan(terms, **options)`` -> (the plan dict, PlaybookResult); the lookup must succeed."""

    def run(terms=(), **options):
        result = lookup_run(terms, **options)
        assert result.ok, result.stdout[-3000:] + result.stderr[-3000:]
        return result.task("plan")["msg"], result

    return run
