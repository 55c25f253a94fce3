"""plugin_utils/action.py: a module's task run in the controller's process - the module's result, its validation, its
masking - and the module itself wherever the task does not run on the controller."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest
from ansible.plugins.action.normal import ActionModule as NormalAction

from ansible_collections.lxdcp.maas.plugins.action import maas_dns_record as dns_action, maas_vmhost_info as info_action
from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError
from ansible_collections.lxdcp.maas.plugins.module_utils.module import ModuleTask
from ansible_collections.lxdcp.maas.plugins.modules import maas_dns_record, maas_vmhost_info
from ansible_collections.lxdcp.maas.plugins.plugin_utils import action as base
from ansible_collections.lxdcp.maas.tests.unit.plugins import maasdata as data
from ansible_collections.lxdcp.maas.tests.unit.plugins.fakehttp import API_KEY, BASE, SECRET, FakeMaas, client_factory, run_module


def run_action(plugin, args, fake, monkeypatch, transport="local", become=False, async_val=0, environment=None,
               check_mode=False, diff=False, verbosity=0, auth=True, task_vars=None, delegate_to=None):
    """Run ``plugin``'s ActionModule as the task executor would, with ``args`` (auth added) against ``fake``."""
    task_args = dict(url=BASE, api_key=API_KEY) if auth else {}
    task_args.update(args)
    task = SimpleNamespace(args=task_args, action="lxdcp.maas.%s" % plugin.__name__.rsplit(".", 1)[-1],
                           check_mode=check_mode, diff=diff, async_val=async_val, environment=environment or [{}],
                           delegate_to=delegate_to)
    connection = SimpleNamespace(transport=transport, _shell=SimpleNamespace(tmpdir=None), has_native_async=False)
    templar = SimpleNamespace(template=lambda value: value.replace("{{ ansible_playbook_python }}", sys.executable))
    action = plugin.ActionModule(task, connection, SimpleNamespace(become=become), loader=None, templar=templar)
    monkeypatch.setattr(action, "client_class", client_factory(fake))
    monkeypatch.setattr(base.display, "verbosity", verbosity)
    monkeypatch.delenv("ANSIBLE_PYTHON_INTERPRETER", raising=False)
    return action.run(task_vars=task_vars or {})


def vm_hosts():
    fake = FakeMaas()
    fake.add("GET", "vm-hosts/", json=[data.vm_host(1, "lxd-a", system_id="hosta"), data.vm_host(2, "lxd-b", zone_name="az2", zone_id=2)])
    fake.add("GET", "zones/", json=[data.zone("az1", 1), data.zone("az2", 2)])
    fake.add("GET", "resourcepools/", json=[data.pool("default", 0)])
    fake.add("GET", "machines/", json=[data.machine("hosta", "lxd-a", status="Deployed", power_state="on")])
    return fake


def test_the_result_is_the_modules(monkeypatch):
    module = run_module(maas_vmhost_info.main, {"zones": ["az1"]}, vm_hosts(), monkeypatch)
    fake = vm_hosts()
    result = run_action(info_action, {"zones": ["az1"]}, fake, monkeypatch)
    assert result.pop("invocation")["module_args"]["api_key"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert result == module and [h["name"] for h in result["vm_hosts"]] == ["lxd-a"]
    assert fake.writes() == [] and fake.calls


def test_a_maas_failure_is_the_modules(monkeypatch):
    def refusing():
        return FakeMaas().add("GET", "vm-hosts/", status=403, text="This method is reserved for admin users.")

    module = run_module(maas_vmhost_info.main, {}, refusing(), monkeypatch)
    result = run_action(info_action, {}, refusing(), monkeypatch)
    result.pop("invocation")
    assert result == module and result["failed"] and result["error"]["status"] == 403


@pytest.mark.parametrize("args", [
    {"fqdn": "api.example.com", "name": "api", "addresses": ["10.0.0.5"]},
    {"addresses": ["10.0.0.5"]},
    {"fqdn": "api.example.com", "addresses": ["10.0.0.5"], "ttl": "soon"},
])
def test_bad_arguments_fail_as_in_the_module_before_any_request(monkeypatch, args):
    module = run_module(maas_dns_record.main, args, FakeMaas(), monkeypatch)
    fake = FakeMaas()
    result = run_action(dns_action, args, fake, monkeypatch)
    assert result["failed"] and result["msg"] == module["msg"] and fake.calls == []


def test_unknown_options_are_named(monkeypatch):
    result = run_action(info_action, {"bogus": "az1"}, FakeMaas(), monkeypatch)
    assert result["failed"] and result["msg"].startswith(
        "Unsupported parameters for (lxdcp.maas.maas_vmhost_info) module: bogus. Supported parameters include: api_key")


def test_the_environment_fallbacks_are_read_here(monkeypatch):
    monkeypatch.setenv("MAAS_URL", BASE)
    monkeypatch.setenv("MAAS_API_KEY", API_KEY)
    result = run_action(info_action, {}, vm_hosts(), monkeypatch, auth=False)
    assert not result.get("failed") and len(result["vm_hosts"]) == 2


class ProbeAction(base.ModuleTaskAction):
    """An action plugin for a probe module: what the task saw, a warning, a deprecated alias."""


def probe(context):
    context.warn("the probe warns")
    if context.params["fail"]:
        raise LxdcpError("the probe failed with %s" % context.params["api_key"], where="probe")
    context.client()
    return dict(changed=not context.check_mode, check_mode=context.check_mode, diff_mode=context.diff_mode,
                zones=context.params["zones"])


ProbeAction.TASK = ModuleTask(probe, argument_spec=dict(
    fail=dict(type="bool", default=False),
    zones=dict(type="list", elements="str", aliases=["zone"],
               deprecated_aliases=[dict(name="zone", version="2.0.0", collection_name="lxdcp.maas")]),
), supports_check_mode=True, failure_result=dict(changed=False))
PROBE = SimpleNamespace(ActionModule=ProbeAction, __name__="probe")


def test_check_and_diff_mode_reach_the_task(monkeypatch):
    result = run_action(PROBE, {}, FakeMaas(), monkeypatch, check_mode=True, diff=True)
    assert result["check_mode"] is True and result["diff_mode"] is True and result["changed"] is False
    assert run_action(PROBE, {}, FakeMaas(), monkeypatch)["changed"] is True


def test_warnings_and_deprecated_aliases_are_reported(monkeypatch):
    result = run_action(PROBE, {"zone": ["az1"]}, FakeMaas(), monkeypatch)
    assert result["zones"] == ["az1"] and result["warnings"] == ["the probe warns"]
    assert result["deprecations"] == [
        {"msg": "Alias 'zone' is deprecated. See the module docs for more information", "version": "2.0.0",
         "collection_name": "lxdcp.maas"}]


def test_the_secrets_are_masked_in_the_result_and_the_log(monkeypatch):
    failed = run_action(PROBE, {"fail": True}, FakeMaas(), monkeypatch, verbosity=3)
    assert failed["failed"] and failed["where"] == "probe" and failed["msg"].startswith("the probe failed with ")
    assert API_KEY not in repr(failed) and SECRET not in repr(failed) and failed["maas_log"]
    done = run_action(PROBE, {}, FakeMaas(), monkeypatch, verbosity=3)
    assert "maas_log" in done and SECRET not in repr(done)
    assert done["invocation"]["module_args"]["api_key"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_a_bug_fails_the_task_without_a_secret(monkeypatch):
    class Buggy(ProbeAction):
        TASK = ModuleTask(lambda context: {}["no " + context.params["api_key"]], argument_spec={})

    result = run_action(SimpleNamespace(ActionModule=Buggy, __name__="buggy"), {}, FakeMaas(), monkeypatch)
    assert result["failed"] and result["msg"].startswith("lxdcp.maas.buggy failed: KeyError: ")
    assert API_KEY not in repr(result) and SECRET not in repr(result)


@pytest.mark.parametrize("where", [
    dict(transport="ssh"),
    dict(become=True),
    dict(async_val=60),
    dict(environment=[{"HTTPS_PROXY": "http://proxy:3128"}]),
])
def test_elsewhere_the_module_runs(monkeypatch, where):
    ran = []
    monkeypatch.setattr(NormalAction, "run", lambda self, tmp=None, task_vars=None: ran.append(self._task.args) or {"ran": "module"})
    fake = FakeMaas()
    assert run_action(PROBE, {}, fake, monkeypatch, **where) == {"ran": "module"}
    assert len(ran) == 1 and fake.calls == []


@pytest.mark.parametrize("missing", [("MISSING_LIBRARY", "requests"), ("HAS_NETADDR", False)])
def test_without_the_requirements_here_the_module_runs(monkeypatch, missing):
    monkeypatch.setattr(NormalAction, "run", lambda self, tmp=None, task_vars=None: {"ran": "module"})
    monkeypatch.setattr(base, *missing)
    assert run_action(PROBE, {}, FakeMaas(), monkeypatch) == {"ran": "module"}


def test_a_failed_validation_keeps_the_warnings_and_deprecations(monkeypatch):
    fake = FakeMaas()
    result = run_action(PROBE, {"zone": ["az1"], "zones": ["az2"], "fail": "maybe"}, fake, monkeypatch)
    assert result["failed"] and "fail" in result["msg"] and fake.calls == []
    assert result["warnings"] == ["Both option zones and its alias zone are set."]
    assert [d["version"] for d in result["deprecations"]] == ["2.0.0"]


def test_the_arguments_are_the_modules_json(monkeypatch):
    """Arguments are what a module would receive: Ansible's own string types and tuples become plain JSON values."""

    class Text(str):
        pass

    result = run_action(PROBE, {"zones": (Text("az1"),), "fail": Text("no")}, FakeMaas(), monkeypatch)
    assert result["zones"] == ["az1"] and not isinstance(result["zones"][0], Text) and not result.get("failed")


def test_the_api_key_is_masked_even_when_it_is_not_a_valid_value(monkeypatch):
    result = run_action(PROBE, {"api_key": API_KEY, "timeout": "soon"}, FakeMaas(), monkeypatch, auth=False)
    assert result["failed"] and API_KEY not in repr(result) and SECRET not in repr(result)


@pytest.mark.parametrize("interpreter, here", [
    ("{{ ansible_playbook_python }}", True),
    (sys.executable, True),
    ("auto_silent", True),
    ("/opt/other/venv/bin/python", False),
])
def test_another_python_runs_the_module(monkeypatch, interpreter, here):
    monkeypatch.setattr(NormalAction, "run", lambda self, tmp=None, task_vars=None: {"ran": "module"})
    result = run_action(PROBE, {}, FakeMaas(), monkeypatch, task_vars={"ansible_python_interpreter": interpreter})
    assert (result != {"ran": "module"}) is here
    delegated = {"ansible_python_interpreter": sys.executable,
                 "ansible_delegated_vars": {"localhost": {"ansible_python_interpreter": interpreter}}}
    result = run_action(PROBE, {}, FakeMaas(), monkeypatch, task_vars=delegated, delegate_to="localhost")
    assert (result != {"ran": "module"}) is here


def test_same_python():
    assert base.same_python(sys.executable, sys.executable)
    assert not base.same_python(sys.executable, "/usr/local/bin/python-elsewhere")
