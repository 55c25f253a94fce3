"""Provider IDs: the one formatter and parser (plugins/module_utils/machines.py), in CAPMAAS's shape."""

from __future__ import annotations

import re

import pytest

from ansible_collections.lxdcp.maas.plugins.module_utils.machines import parse_provider_id, provider_id
from ansible_collections.lxdcp.maas.tests.unit.plugins import maasdata as data

VM = data.machine("vm1", "cp-1", host=data.vm_host(1, "lxd-a"), zone_name="az2", zone_id=2)
DIRECT_VM = dict(data.machine("vm2", "cp-2", zone_name="az1"), power_type="lxd")
METAL = data.machine("bm1", "cp-3", zone_name="az3", zone_id=3)


def test_bare_metal_is_written_exactly_as_capmaas_writes_it():
    # cluster-api-provider-maas, pkg/maas/scope/machine.go: fmt.Sprintf("maas:///%s/%s", availabilityZone, systemID)
    assert provider_id(METAL) == "maas:///az3/bm1"
    assert provider_id(METAL, "maas") == provider_id(METAL, "maas-lxd") == "maas:///az3/bm1"


def test_vms_have_the_same_shape_under_their_own_scheme_or_maas_when_asked():
    assert provider_id(VM) == "maas-lxd:///az2/vm1" and provider_id(DIRECT_VM) == "maas-lxd:///az1/vm2"
    assert provider_id(VM, "maas") == "maas:///az2/vm1" and provider_id(DIRECT_VM, "maas") == "maas:///az1/vm2"
    with pytest.raises(ValueError, match="maas-lxd, maas"):
        provider_id(VM, "lxd")


@pytest.mark.parametrize("text, parsed", [
    ("maas:///az3/bm1", dict(scheme="maas", zone="az3", system_id="bm1", legacy=False)),
    ("maas-lxd:///az2/vm1", dict(scheme="maas-lxd", zone="az2", system_id="vm1", legacy=False)),
    ("maas://az3/bm1", dict(scheme="maas", zone="az3", system_id="bm1", legacy=True)),
    ("maas-lxd://az2/vm1", dict(scheme="maas-lxd", zone="az2", system_id="vm1", legacy=True)),
])
def test_every_form_written_so_far_is_read(text, parsed):
    assert parse_provider_id(text) == parsed


@pytest.mark.parametrize("machine", [VM, DIRECT_VM, METAL])
@pytest.mark.parametrize("scheme", ["maas-lxd", "maas"])
def test_what_is_written_reads_back(machine, scheme):
    parsed = parse_provider_id(provider_id(machine, scheme))
    assert (parsed["zone"], parsed["system_id"], parsed["legacy"]) == (machine["zone"]["name"], machine["system_id"], False)


@pytest.mark.parametrize("text, says", [
    ("aws:///az1/i-1", "must start with maas:// or maas-lxd://"),
    ("maas:/az1/bm1", "must start with"),
    ("maas:///bm1", "maas:///<zone>/<system_id>"),
    ("maas:///az1/", "maas:///<zone>/<system_id>"),
    ("maas-lxd:////vm1", "maas-lxd:///<zone>/<system_id>"),
    ("maas:///az1/bm1/extra", "maas:///<zone>/<system_id>"),
    ("", "must start with"),
    (None, "not a string"),
])
def test_anything_else_is_refused_saying_what_is_expected(text, says):
    with pytest.raises(ValueError, match=re.escape(says)) as caught:
        parse_provider_id(text)
    assert repr(text) in str(caught.value)
