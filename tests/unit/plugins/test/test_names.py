"""The Jinja2 tests of plugins/test/names.py: the name rules of module_utils/names.py, once, for the roles."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jinja2
import pytest
import yaml

from ansible_collections.lxdcp.maas.plugins.module_utils import names
from ansible_collections.lxdcp.maas.plugins.test import names as name_tests

TESTS = name_tests.TestModule().tests()
PLUGIN_DIR = os.path.dirname(name_tests.__file__)


def render(expression, **variables):
    """``expression`` rendered by Jinja2 with the plugin's tests (as ``ansible`` would, without the FQCN)."""
    environment = jinja2.Environment()
    environment.tests.update(TESTS)
    return environment.from_string("{{ (%s) | tojson }}" % expression).render(**variables)


def test_each_test_is_the_rule_of_module_utils_names():
    assert TESTS == {"maas_hostname": names.valid_hostname, "maas_tag": names.valid_tag, "dns_name": names.valid_dns_name}


CASES = {
    "maas_hostname": [
        ("cp-1", True), ("a", True), ("A1-b2", True), ("x" * 63, True), ("x" * 64, False),
        ("cp-1.maas", False),  # the domain is separate
        ("-cp", False), ("cp-", False), ("cp_1", False), ("", False), (None, False), (42, False),
    ],
    "maas_tag": [
        ("prod", True), ("my_cluster-2", True), ("lxdcp-cluster-prod", True),
        ("my cluster", False), ("prod.example", False), ("", False), (None, False),
    ],
    "dns_name": [
        ("prod-api.maas", True), ("prod-api.maas.", True), ("cp-1", True),
        ("prod_api.maas", False), ("prod-api..maas", False), ("-api.maas", False),
        ("a." * 127 + "bc", False),  # 256 characters
        ("", False), (None, False),
    ],
}


@pytest.mark.parametrize("test, name, ok", [(test, name, ok) for test, cases in CASES.items() for name, ok in cases])
def test_names(test, name, ok):
    assert render("name is %s" % test, name=name) == json.dumps(ok)


def test_the_tests_filter_lists():
    assert render("names | reject('maas_hostname') | list", names=["cp-1", "cp-1.maas", "-cp"]) == '["cp-1.maas", "-cp"]'


@pytest.mark.parametrize("test", sorted(TESTS))
def test_each_test_has_sidecar_documentation(test):
    with open(os.path.join(PLUGIN_DIR, test + ".yml"), encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    assert doc["DOCUMENTATION"]["name"] == test
    assert set(doc) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    assert "lxdcp.maas.%s" % test in doc["EXAMPLES"]
    assert doc["RETURN"]["_value"]["type"] == "boolean"


def test_ansible_finds_the_tests_by_their_fqcn():
    """Through ansible's own plugin loader and templar, from the collection tree (as the roles use them)."""
    collections = os.environ["ANSIBLE_COLLECTIONS_PATH"]
    script = "\n".join([
        "import sys",
        "from ansible.plugins.loader import init_plugin_loader",
        "init_plugin_loader([sys.argv[1]])",
        "from ansible.parsing.dataloader import DataLoader",
        "from ansible.template import Templar, trust_as_template",
        "templar = Templar(loader=DataLoader(), variables={'names': ['cp-1', 'cp-1.maas', 'cp_1']})",
        "print(templar.template(trust_as_template(",
        "    \"{{ [names | select('lxdcp.maas.maas_hostname') | list, names | select('lxdcp.maas.maas_tag') | list,\"",
        "    \" names | select('lxdcp.maas.dns_name') | list] | to_json }}\")))",
    ])
    result = subprocess.run([sys.executable, "-c", script, collections], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [["cp-1"], ["cp-1", "cp_1"], ["cp-1", "cp-1.maas"]]
