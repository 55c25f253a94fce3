"""The filter lxdcp.maas.preferred_address (plugins/filter/machines.py): machines.preferred_address, for the roles."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jinja2
import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.lxdcp.maas.plugins.filter import machines as machine_filters
from ansible_collections.lxdcp.maas.plugins.module_utils.machines import machine_view
from ansible_collections.lxdcp.maas.tests.unit.plugins.maasdata import interface, link, machine, subnet

FILTERS = machine_filters.FilterModule().filters()
PLUGIN_DIR = os.path.dirname(machine_filters.__file__)
OTHER_NET = subnet("10.20.0.0/24", subnet_id=2, gateway="10.20.0.1")


def view():
    """A machine as maas_lxd_vm returns it: auto 10.10.0.50, static 10.10.0.101, auto 10.20.0.7."""
    links = [link(11, "auto", "10.10.0.50"), link(12, "static", "10.10.0.101"), link(13, "auto", "10.20.0.7", OTHER_NET)]
    return machine_view(machine("a1", "cp-1", interfaces=[interface(1, system_id="a1", links=links)]))


def render(expression, **variables):
    """``expression`` rendered by Jinja2 with the plugin's filters (as ``ansible`` would, without the FQCN)."""
    environment = jinja2.Environment()
    environment.filters.update(FILTERS)
    return environment.from_string("{{ (%s) | tojson }}" % expression).render(**variables)


@pytest.mark.parametrize("expression, expected", [
    ("m | preferred_address", "10.10.0.101"),
    ("m | preferred_address(['10.20.0.0/24'])", "10.20.0.7"),
    ("m | preferred_address([], planned='10.10.0.50')", "10.10.0.50"),
    ("m | preferred_address(none, planned='10.10.0.99')", "10.10.0.101"),
    ("none | preferred_address(['10.20.0.0/24'], planned='10.10.0.4')", "10.10.0.4"),
    ("{} | preferred_address(planned='10.10.0.4')", "10.10.0.4"),
    # ansible-core before 2.19 makes '' of a fact set to none (the deploy role's machine in check mode).
    ("'' | preferred_address(['10.20.0.0/24'], planned='10.10.0.4')", "10.10.0.4"),
    ("none | preferred_address(planned='') or ''", ""),
])
def test_the_filter_is_the_function(expression, expected):
    assert json.loads(render(expression, m=view())) == expected


@pytest.mark.parametrize("args, message", [
    (("cp-1",), "the input must be a machine"),
    ((["10.10.0.1"],), "the input must be a machine"),
    (({}, "10.20.0.0/24"), "preferred_subnets must be a list of CIDRs, not str '10.20.0.0/24'"),
    (({}, [24]), "preferred_subnets must be a list of CIDRs (strings); 24 is not"),
    (({}, [], ["10.10.0.1"]), "planned must be an IP address (a string) or none, not list"),
])
def test_bad_arguments_are_named(args, message):
    with pytest.raises(AnsibleFilterError) as error:
        FILTERS["preferred_address"](*args)
    assert message in str(error.value)


def test_the_filter_has_sidecar_documentation():
    with open(os.path.join(PLUGIN_DIR, "preferred_address.yml"), encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    assert set(doc) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    assert doc["DOCUMENTATION"]["name"] == "preferred_address"
    assert set(doc["DOCUMENTATION"]["options"]) == {"_input", "preferred_subnets", "planned"}
    assert "lxdcp.maas.preferred_address" in doc["EXAMPLES"]


def test_ansible_finds_the_filter_by_its_fqcn():
    """Through ansible's own plugin loader and templar, from the collection tree (as the deploy role uses it)."""
    collections = os.environ["ANSIBLE_COLLECTIONS_PATH"]
    script = "\n".join([
        "import json, sys",
        "from ansible.plugins.loader import init_plugin_loader",
        "init_plugin_loader([sys.argv[1]])",
        "from ansible.parsing.dataloader import DataLoader",
        "from ansible.template import Templar, trust_as_template",
        "templar = Templar(loader=DataLoader(), variables={'m': json.loads(sys.argv[2])})",
        "print(templar.template(trust_as_template(",
        "    \"{{ [m | lxdcp.maas.preferred_address(['10.20.0.0/24']), none | lxdcp.maas.preferred_address(planned='10.10.0.4'),\"",
        "    \" {} | lxdcp.maas.preferred_address or ''] | to_json }}\")))",
    ])
    result = subprocess.run([sys.executable, "-c", script, collections, json.dumps(view())],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["10.20.0.7", "10.10.0.4", ""]
