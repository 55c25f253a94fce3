"""The scheduler's words (explain.INSTANCE) say what the collection's (explain.VM) say, about instances of a request.

Over generated plans and errors (the property tests' generators), every reason, warning and error message
in INSTANCE words carries the same numbers as in VM words and none of the cluster's words; a one-instance
request's reason leaves out the zone and host clauses when they say nothing. (Until the scheduler rendered
with explain.INSTANCE, this file checked that INSTANCE gives exactly what the regular expressions of
scheduler.request_wording made of the VM words; test_placement_explain.py pins examples of every sentence.)
"""

from __future__ import annotations

import dataclasses
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.lxdcp.maas.plugins.module_utils.placement import core, explain
from ansible_collections.lxdcp.maas.tests.unit.plugins.module_utils.test_placement_properties import (
    STRATEGY_NAMES,
    cases_with_existing_replicas,
    hosts_lists,
    requests,
    roomy_cases,
)

MANY_ZONES = tuple(f"az{index}" for index in range(1, 10))
SETTINGS = settings(max_examples=300, deadline=None)
VM, INSTANCE = explain.VM, explain.INSTANCE


NUMBERS = re.compile(r"-?\d+(?:\.\d+)?")
CLUSTER_WORDS = re.compile(r"cluster|\bVMs?\b|\bof it\b|\bruns\b")


def same_story(vm_text, instance_text, quiet=False):
    """``instance_text`` says what ``vm_text`` says, in the scheduler's words."""
    assert not CLUSTER_WORDS.search(instance_text), instance_text
    assert "replica" not in instance_text.replace("the replicas that already exist", ""), instance_text
    if quiet:  # without the zone and host clauses
        vm_text = "; ".join(vm_text.split("; ")[2:])
    assert NUMBERS.findall(instance_text) == NUMBERS.findall(vm_text), (vm_text, instance_text)


def same_words(hosts, request):
    single = request.count == 1
    try:
        result = core.plan(hosts, request)
    except core.PlacementError as error:
        same_story(explain.error_message(error, VM), explain.error_message(error, INSTANCE))
        placements = error.placements
    else:
        placements = result.placements
        for warning in result.warnings:
            same_story(explain.warning_text(warning, VM), explain.warning_text(warning, INSTANCE))
    for item in placements:
        quiet = single and item.zone_replicas == item.fewest == item.shared_replicas == 0
        same_story(explain.placement_reason(item, VM), explain.placement_reason(item, INSTANCE, single), quiet)
        if quiet:
            assert explain.placement_reason(item, INSTANCE, single).startswith(item.strategy + ": ")


@SETTINGS
@given(hosts=hosts_lists(), request=requests())
def test_every_kind_of_plan(hosts, request):
    same_words(hosts, request)


@SETTINGS
@given(hosts=hosts_lists(zones=MANY_ZONES, max_size=30), request=requests(zones=MANY_ZONES))
def test_many_zones(hosts, request):
    same_words(hosts, request)


@SETTINGS
@given(case=roomy_cases())
def test_roomy_zones(case):
    same_words(*case[:2])


@SETTINGS
@given(case=cases_with_existing_replicas())
def test_existing_replicas(case):
    same_words(*case[:2])


@SETTINGS
@given(hosts=hosts_lists(zones=MANY_ZONES, max_size=30, replicas=False), count=st.integers(1, 12), cores=st.integers(1, 4),
       strategy=st.sampled_from(STRATEGY_NAMES), max_skew=st.integers(1, 3),
       zones=st.none() | st.lists(st.sampled_from(MANY_ZONES), min_size=1, unique=True))
def test_requests_as_the_scheduler_makes_them(hosts, count, cores, strategy, max_skew, zones):
    # No disk, no names, no existing replicas: the scheduler's requests.
    same_words(hosts, core.Request(count=count, cores=cores, memory=512, zones=zones, strategy=strategy, max_skew=max_skew))


@SETTINGS
@given(hosts=hosts_lists(), request=requests())
def test_one_instance(hosts, request):
    same_words(hosts, dataclasses.replace(request, count=1, names=None))
