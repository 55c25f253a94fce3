"""The roles' first task (the action lxdcp.maas.validate_role_inputs, plugin_utils/role_inputs.py): the role's argument
spec validated as Ansible validates it, then the values checked together - each role's own checks, with the shared
ones around them."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
import yaml
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import validate_argument_spec as ansible_validation

from ansible_collections.lxdcp.maas.plugins.action import validate_role_inputs
from ansible_collections.lxdcp.maas.plugins.plugin_utils import role_inputs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SECRET = "consumer:token:do-not-show"
SHARED = {"cluster": "prod", "hostname": "prod-cp-1", "mode": "lxd", "maas_url": "http://maas:5240/MAAS",
          "maas_api_key": SECRET}
GOOD = {
    "provision": {"provision_ip": "", "provision_subnet": "", "provision_gateway": "", "provision_dns_servers": []},
    "deploy": {"deploy_api_port": 6443, "deploy_api_endpoint": "", "deploy_api_dns_name": "prod-api",
               "deploy_preferred_subnets": []},
    "release": {},
}


def values(role, **changes):
    """A role's variables that pass every check, with ``changes`` (names without the role's prefix)."""
    found = {"%s_%s" % (role, name): value for name, value in SHARED.items()}
    found.update(GOOD[role])
    found["lxdcp_vm_provider_id_scheme"] = "maas-lxd"
    found.update({"%s_%s" % (role, name): value for name, value in changes.items()})
    return found


@pytest.mark.parametrize("role", ["provision", "deploy", "release"])
def test_good_values_have_no_problem(role):
    assert role_inputs.role_problems(role, values(role)) == []
    assert role_inputs.role_problems(role, values(role, hostname=101, mode="bare-metal")) == []


@pytest.mark.parametrize("changes, message", [
    ({"subnet": "10.10.0.0/24"}, "provision_subnet is only used with provision_ip (lxdcp_ip)"),
    ({"gateway": "10.10.0.1"}, "provision_gateway and provision_dns_servers (lxdcp_gateway, lxdcp_dns_servers) are only "
                               "used with provision_ip (lxdcp_ip): MAAS configures them on the static address; a machine "
                               "without one gets its subnet's by DHCP"),
    ({"dns_servers": ["10.10.0.2"]}, "provision_gateway and provision_dns_servers (lxdcp_gateway, lxdcp_dns_servers) are "
                                     "only used with provision_ip (lxdcp_ip): MAAS configures them on the static "
                                     "address; a machine without one gets its subnet's by DHCP"),
    ({"ip": "10.10.0.5", "mode": "bare-metal"}, 'static IP "10.10.0.5" (provision_ip or lxdcp_ip) only applies to LXD '
                                                "VMs: lxdcp.maas.maas_lxd_vm has no static-IP support for bare-metal "
                                                "machines, which get their address from MAAS when they are deployed; "
                                                "remove lxdcp_ip from this host or set lxdcp_provisioning_mode to lxd"),
])
def test_the_provision_roles_own_checks(changes, message):
    assert role_inputs.role_problems("provision", values("provision", **changes)) == [message]


def test_static_ip_settings_with_a_static_ip_pass():
    assert role_inputs.role_problems("provision", values("provision", ip="10.10.0.5", subnet="10.10.0.0/24",
                                                         gateway="10.10.0.1", dns_servers=["10.10.0.2"])) == []


@pytest.mark.parametrize("port, shown", [
    (0, "0"), (65536, "65536"), ("https", '"https"'), ("-1", '"-1"'), (6443.5, "6443.5"), (True, "true"), (None, "null"),
])
def test_the_api_port_is_a_number_from_1_to_65535(port, shown):
    assert role_inputs.role_problems("deploy", values("deploy", api_port=port)) == [
        "API server port %s must be a number from 1 to 65535" % shown]


@pytest.mark.parametrize("port", [1, 6443, "8443", 65535])
def test_good_api_ports(port):
    assert role_inputs.role_problems("deploy", values("deploy", api_port=port)) == []


def test_the_deploy_roles_endpoint_checks():
    assert role_inputs.role_problems("deploy", values("deploy", api_endpoint="https://api.example.com:6443")) == [
        'custom API endpoint "https://api.example.com:6443" must be a host name or an IP address, without scheme or port '
        "(the port is deploy_api_port)"]
    for endpoint in ("api.example.com", "10.10.0.5", "fd00::5"):
        assert role_inputs.role_problems("deploy", values("deploy", api_endpoint=endpoint, api_dns_name="not a label")) == []
    assert role_inputs.role_problems("deploy", values("deploy", api_dns_name="prod_api")) == [
        'DNS name "prod_api" of the API endpoint must be one DNS label (letters, digits and -)']
    # Without a cluster, the default DNS name is not one either: the missing cluster is the problem reported.
    assert role_inputs.role_problems("deploy", values("deploy", cluster="", api_dns_name="-api")) == [
        "set deploy_cluster (or lxdcp_cluster) to the name of the cluster"]


@pytest.mark.parametrize("subnets, shown", [
    (["10.10.0.0/24", "10.20.0.5"], '["10.10.0.0/24", "10.20.0.5"]'),
    ("10.10.0.0/24", '"10.10.0.0/24"'),
    ([24], "[24]"),
])
def test_preferred_subnets_are_cidrs(subnets, shown):
    assert role_inputs.role_problems("deploy", values("deploy", preferred_subnets=subnets)) == [
        "deploy_preferred_subnets must be CIDRs, got %s" % shown]


def test_problems_come_in_order_and_the_api_key_is_never_shown():
    found = role_inputs.role_problems("release", values("release", cluster="", mode="vm", maas_url="", maas_api_key=""))
    assert found == ["set release_cluster (or lxdcp_cluster) to the name of the cluster; only its machines are removed",
                     'provisioning mode "vm" must be lxd or bare-metal',
                     "set release_maas_url (or lxdcp_maas_url, or the MAAS_URL environment variable)",
                     "set release_maas_api_key (or lxdcp_maas_api_key, or the MAAS_API_KEY environment variable)"]
    found = role_inputs.role_problems("provision", values("provision", cluster="a b", subnet="10.0.0.0/8",
                                                          maas_url=""))
    assert found == ['cluster name "a b" may only use letters, digits, _ and -',
                     "provision_subnet is only used with provision_ip (lxdcp_ip)",
                     "set provision_maas_url (or lxdcp_maas_url, or the MAAS_URL environment variable)"]
    assert not any(SECRET in message for message in role_inputs.role_problems("deploy", values("deploy", cluster="")))


@pytest.mark.parametrize("role", ["provision", "deploy", "release"])
def test_the_spec_is_the_roles_meta_argument_specs(role):
    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        specs = yaml.safe_load(handle)["argument_specs"]
    assert role_inputs.argument_spec(role) == specs["main"]["options"]
    assert role_inputs.argument_spec(role, "no-such-entry-point") is None
    # Every variable the checks read is an option of the spec (it is rendered once, for both).
    assert set(values(role)) - {"lxdcp_vm_provider_id_scheme"} <= set(role_inputs.argument_spec(role))


def test_the_deploy_roles_entry_points_share_its_options():
    assert role_inputs.argument_spec("deploy", "prepare") == role_inputs.argument_spec("deploy", "prepared") == \
        role_inputs.argument_spec("deploy")


# -- the action ---------------------------------------------------------------


def run(plugin, args, task_vars, check_mode=False):
    """Run an action plugin's ActionModule as the task executor would; the values are given rendered."""
    task = SimpleNamespace(args=args, action="validate", check_mode=check_mode, diff=False, async_val=0,
                           environment=[{}], delegate_to=None)
    connection = SimpleNamespace(transport="local", _shell=SimpleNamespace(tmpdir=None), has_native_async=False)
    templar = SimpleNamespace(template=lambda value: value)
    action = plugin.ActionModule(task, connection, SimpleNamespace(become=False), loader=None, templar=templar,
                                 shared_loader_obj=None)
    return action.run(task_vars=dict(task_vars, inventory_hostname="prod-cp-1"))


@pytest.mark.parametrize("role", ["provision", "deploy", "release"])
def test_the_action_passes_good_values(role):
    result = run(validate_role_inputs, {"role": role}, values(role), check_mode=role == "deploy")
    assert not result.get("failed") and result["changed"] is False, result
    context = dict(result["validate_args_context"])
    assert os.path.realpath(context.pop("path")) == os.path.realpath(os.path.join(ROOT, "roles", role))
    assert context == {"type": "role", "name": role, "argument_spec_name": "main"}


@pytest.mark.parametrize("role, changes", [
    ("provision", {"cores": "many"}),
    ("provision", {"mode": "vm", "strategy": "fastest", "max_skew": [1]}),
    ("deploy", {"api_port": "https", "show_summary": "perhaps"}),
    ("release", {"wait_timeout": "later"}),
])
def test_a_wrong_type_or_choice_fails_as_ansibles_own_validation_does(role, changes):
    task_vars = values(role, **changes)
    spec = role_inputs.argument_spec(role)
    ansible = run(ansible_validation, {"argument_spec": spec}, task_vars)
    ours = run(validate_role_inputs, {"role": role}, task_vars)
    assert ours["failed"] and ansible["failed"]
    assert ours["msg"] == ansible["msg"] and ours["msg"].startswith("Validation of arguments failed:\n")
    assert ours["argument_errors"] == ansible["argument_errors"] and ours["argument_spec_data"] == spec
    assert "problems" not in ours


def test_the_action_reports_every_problem_of_the_values_in_one_message():
    result = run(validate_role_inputs, {"role": "provision"},
                 values("provision", hostname="cp-1.maas", subnet="10.0.0.0/8", maas_api_key=""))
    assert result["failed"] and result["problems"] == [
        'hostname "cp-1.maas" is not a MAAS hostname (letters, digits and -, at most 63 characters, no dots); set '
        "lxdcp_hostname", "provision_subnet is only used with provision_ip (lxdcp_ip)",
        "set provision_maas_api_key (or lxdcp_maas_api_key, or the MAAS_API_KEY environment variable)"]
    assert result["msg"] == "prod-cp-1: " + "; ".join(result["problems"])


def test_the_api_key_never_appears_in_the_result():
    result = run(validate_role_inputs, {"role": "deploy"}, values("deploy", cluster="", api_port="https"))
    assert result["failed"] and SECRET not in repr(result)
    result = run(validate_role_inputs, {"role": "deploy"}, values("deploy", cluster=""))
    assert result["failed"] and SECRET not in repr(result)


def test_the_provider_id_scheme_is_checked_too():
    task_vars = values("release")
    task_vars["lxdcp_vm_provider_id_scheme"] = "capmaas"
    assert run(validate_role_inputs, {"role": "release"}, task_vars)["problems"][0].startswith(
        'lxdcp_vm_provider_id_scheme "capmaas" must be maas-lxd')


@pytest.mark.parametrize("args, message", [
    ({"role": "lxd_multi_scheduler"}, "value of role must be one of: deploy, provision, release, got: lxd_multi_scheduler"),
    ({}, "missing required arguments: role"),
    ({"role": "deploy", "entry_point": "teardown"}, "the deploy role has no entry point 'teardown'"),
    ({"role": "deploy", "checks": []}, "checks. Supported parameters include: entry_point, role."),
])
def test_bad_arguments_of_the_task(args, message):
    with pytest.raises(AnsibleActionFail) as raised:
        run(validate_role_inputs, args, values("deploy"))
    assert message in str(raised.value)
