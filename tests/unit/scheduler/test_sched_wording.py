"""The placement core's INSTANCE words are exactly what request_wording made of its VM words.

Over generated plans and errors (the property tests' generators): every reason, warning and error
message rendered with ``explain.INSTANCE`` equals ``request_wording`` applied to the same text
rendered with ``explain.VM`` (for one-instance requests too). Host, zone and pool names are such
that the old regular expressions only ever matched the core's own words.
"""

from __future__ import annotations

import dataclasses

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
from lxd_multi_scheduler.scheduler import request_wording

MANY_ZONES = tuple(f"az{index}" for index in range(1, 10))
SETTINGS = settings(max_examples=300, deadline=None)
VM, INSTANCE = explain.VM, explain.INSTANCE


def same_words(hosts, request):
    single = request.count == 1
    try:
        result = core.plan(hosts, request)
    except core.PlacementError as error:
        assert explain.error_message(error, INSTANCE) == request_wording(explain.error_message(error, VM), single)
        assert explain.error_reason(error) == request_wording(explain.error_reason(error), single)
        placements = error.placements
    else:
        placements = result.placements
        for warning in result.warnings:
            assert explain.warning_text(warning, INSTANCE) == request_wording(explain.warning_text(warning, VM))
        for rejection in result.rejected:
            assert explain.rejection_reason(rejection) == request_wording(explain.rejection_reason(rejection))
    for item in placements:
        assert explain.placement_reason(item, INSTANCE, single) == request_wording(explain.placement_reason(item, VM), single)


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
