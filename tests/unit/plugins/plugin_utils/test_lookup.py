"""plugin_utils/lookup.py: a lookup's deprecated option is reported on every supported ansible-core (2.17 reports only
the configuration's deprecations when the CLI starts, not those of a lookup, whose options are read in a worker)."""

from __future__ import annotations

from ansible import constants as C

from ansible_collections.lxdcp.maas.plugins.lookup import maas_placement
from ansible_collections.lxdcp.maas.plugins.plugin_utils import lookup as base
from ansible_collections.lxdcp.maas.tests.unit.plugins.plugindocs import register_options

PLUGIN = "lxdcp.maas.maas_placement"

register_options("lookup", PLUGIN, maas_placement.DOCUMENTATION)


def placement_lookup():
    lookup = maas_placement.LookupModule()
    lookup._load_name = PLUGIN  # pylint: disable=protected-access
    return lookup


def shown(monkeypatch):
    """The deprecations the lookup reports, as ``(message, version, collection_name)``."""
    calls = []
    monkeypatch.setattr(base.display, "deprecated", lambda msg, version=None, date=None, collection_name=None:
                        calls.append((msg, version, collection_name)))
    return calls


def test_a_pending_deprecation_of_the_lookups_own_option_is_reported_once_and_others_are_left(monkeypatch):
    tags = C.config.get_configuration_definitions("lookup", PLUGIN)["tags"]["deprecated"]
    other = ("DEFAULT_SOMETHING", {"why": "core's own", "version": "2.99"})
    monkeypatch.setattr(C.config, "DEPRECATED", [other, ("tags", tags)])
    calls = shown(monkeypatch)

    base.show_option_deprecations(placement_lookup())
    assert calls == [("tags option of the lookup lxdcp.maas.maas_placement. Reason: %s Alternatives: host_tags." % tags["why"],
                      "2.0.0", "lxdcp.maas")]
    assert C.config.DEPRECATED == [other]  # the configuration's own deprecation is the CLI's to report

    base.show_option_deprecations(placement_lookup())
    assert len(calls) == 1  # reported once


def test_nothing_pending_nothing_said(monkeypatch):
    """ansible-core 2.18 and later have reported (and removed) them in set_options already."""
    monkeypatch.setattr(C.config, "DEPRECATED", [])
    calls = shown(monkeypatch)
    base.show_option_deprecations(placement_lookup())
    assert calls == []
