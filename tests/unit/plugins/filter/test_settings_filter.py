"""The filter lxdcp.maas.setting_problems (plugins/filter/settings.py): the roles' shared checks of a machine's settings."""

from __future__ import annotations

import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.lxdcp.maas.plugins.filter import settings as setting_filters

problems = setting_filters.FilterModule().filters()["setting_problems"]
SECRET = "consumer:token:do-not-show"


def good(**changes):
    """Settings that pass every check, with ``changes``."""
    values = {"cluster": "prod", "hostname": "prod-cp-1", "mode": "lxd", "vm_provider_id_scheme": "maas-lxd",
              "maas_url": "http://maas:5240/MAAS", "maas_api_key": SECRET}
    values.update(changes)
    return values


def test_good_settings_have_no_problem():
    assert problems(good(), "provision") == []
    assert problems(good(mode="bare-metal", vm_provider_id_scheme="maas", hostname=101), "deploy") == []


@pytest.mark.parametrize("changes, message", [
    ({"cluster": ""}, "set provision_cluster (or lxdcp_cluster) to the name of the cluster"),
    ({"cluster": None}, "set provision_cluster (or lxdcp_cluster) to the name of the cluster"),
    ({"cluster": "a b"}, 'cluster name "a b" may only use letters, digits, _ and -'),
    ({"hostname": "cp-1.maas"}, 'hostname "cp-1.maas" is not a MAAS hostname (letters, digits and -, at most 63 '
                                "characters, no dots); set lxdcp_hostname"),
    ({"hostname": "x" * 64}, 'hostname "%s" is not a MAAS hostname (letters, digits and -, at most 63 characters, no '
                             'dots); set lxdcp_hostname' % ("x" * 64)),
    ({"mode": "vm"}, 'provisioning mode "vm" must be lxd or bare-metal'),
    ({"vm_provider_id_scheme": "capmaas"}, 'lxdcp_vm_provider_id_scheme "capmaas" must be maas-lxd (LXD VMs\' provider '
                                           "IDs maas-lxd:///<zone>/<system_id>) or maas (maas:///<zone>/<system_id>, "
                                           "as cluster-api-provider-maas writes them)"),
    ({"maas_url": ""}, "set provision_maas_url (or lxdcp_maas_url, or the MAAS_URL environment variable)"),
    ({"maas_api_key": ""}, "set provision_maas_api_key (or lxdcp_maas_api_key, or the MAAS_API_KEY environment variable)"),
])
def test_each_problem_has_its_message(changes, message):
    assert problems(good(**changes), "provision") == [message]


def test_problems_come_in_order_with_the_roles_checks_between_identity_and_connection():
    checks = [{"ok": True, "msg": "never shown"}, {"ok": False, "msg": "the role's own"}, {"ok": "False", "msg": "as text"}]
    found = problems(good(cluster="", mode="x", maas_url=""), "release", checks, cluster_note="only its machines are removed")
    assert found == ["set release_cluster (or lxdcp_cluster) to the name of the cluster; only its machines are removed",
                     'provisioning mode "x" must be lxd or bare-metal', "the role's own", "as text",
                     "set release_maas_url (or lxdcp_maas_url, or the MAAS_URL environment variable)"]


def test_the_api_key_is_never_shown():
    found = problems(good(cluster="", hostname="", mode="", vm_provider_id_scheme="", maas_url=""), "deploy")
    assert len(found) == 5 and not any(SECRET in message for message in found)


@pytest.mark.parametrize("settings, role, checks, error", [
    ("prod", "provision", None, "the input must be a dictionary"),
    ({"cluster": "prod"}, "provision", None, "the input lacks hostname, mode, vm_provider_id_scheme, maas_url, maas_api_key"),
    (good(), "", None, "role must be the role's variable prefix"),
    (good(), "provision", "ok", "checks must be a list"),
    (good(), "provision", [{"ok": True}], "each check of the provision role must be a dictionary with ok and msg"),
    (good(), "provision", [{"ok": "maybe", "msg": "m"}], "ok of the provision role's check 'm' must be true or false"),
])
def test_bad_arguments_fail_naming_them(settings, role, checks, error):
    with pytest.raises(AnsibleFilterError, match="^lxdcp.maas.setting_problems: ") as raised:
        problems(settings, role, checks)
    assert error in str(raised.value)
    assert SECRET not in str(raised.value)


def test_the_filter_has_sidecar_documentation():
    with open(os.path.join(os.path.dirname(setting_filters.__file__), "setting_problems.yml"), encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    assert set(doc) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    assert doc["DOCUMENTATION"]["name"] == "setting_problems"
    assert set(doc["DOCUMENTATION"]["options"]) == {"_input", "role", "checks", "cluster_note"}
    assert "lxdcp.maas.setting_problems('provision')" in doc["EXAMPLES"]
