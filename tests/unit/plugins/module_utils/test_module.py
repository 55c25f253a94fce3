"""module.py (the module base), maas_view.py and ownership.py: auth options, the client from module params, maas_log,
failures from LxdcpError, cluster members and replica counts."""

from __future__ import annotations

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.lxdcp.maas.plugins.module_utils import maas_view, module as base, ownership
from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.errors import LxdNotFound
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.errors import MaasConfigError, MaasValidationError
from ansible_collections.lxdcp.maas.tests.unit.plugins.fakehttp import API_KEY, SECRET, FakeMaas, run_module


def probe_main():
    """A minimal module: one GET, then exit with the answer."""
    module = base.MaasModule(argument_spec=dict(name=dict(type="str")), supports_check_mode=True)

    def task(context):
        return dict(changed=False, zones=context.client().list_zones(), name=context.params["name"])

    module.run(task, name=module.params["name"])


def test_argument_spec_merges_auth_and_module_options():
    spec = base.maas_argument_spec(name=dict(type="str"))
    assert set(spec) == {"url", "api_key", "validate_certs", "ca_path", "timeout", "retries", "name"}
    assert spec["api_key"]["no_log"] is True
    assert spec["validate_certs"]["default"] is True
    # The shared spec is not modified by a module adding options.
    assert "name" not in base.AUTH_ARGUMENT_SPEC


def test_module_runs_a_request_and_returns(monkeypatch):
    fake = FakeMaas().add("GET", "zones/", json=[{"name": "az1"}])
    result = run_module(probe_main, {"name": "x"}, fake, monkeypatch)
    assert result["zones"] == [{"name": "az1"}] and "maas_log" not in result


def test_maas_log_only_with_vvv(monkeypatch):
    fake = FakeMaas().add("GET", "zones/", status=503, text="busy", times=1).add("GET", "zones/", json=[])
    result = run_module(probe_main, {}, fake, monkeypatch, verbosity=3)
    log = result["maas_log"]
    assert any("GET /zones/ -> 503 (attempt 1" in line for line in log)
    assert any("retry 1/5 of GET /zones/" in line for line in log)
    assert all(line.startswith("+") for line in log)
    assert SECRET not in repr(result)


def test_env_fallbacks(monkeypatch):
    monkeypatch.setenv("MAAS_URL", "http://maas.env:5240/MAAS")
    monkeypatch.setenv("MAAS_API_KEY", API_KEY)
    fake = FakeMaas().add("GET", "zones/", json=[])
    captured = {}

    def factory(**settings):
        captured.update(settings)
        raise MaasConfigError("stop here")

    monkeypatch.setattr(base.MaasModule, "client_class", staticmethod(factory))
    with patch_module_args({}):
        module = base.MaasModule(argument_spec={})
    with pytest.raises(MaasConfigError, match="stop here"):
        module.context.client()
    assert captured["url"] == "http://maas.env:5240/MAAS" and captured["api_key"] == API_KEY
    assert fake.calls == []


@pytest.mark.parametrize(
    "args, message",
    [
        ({"api_key": "only:two"}, "api_key is malformed"),
        ({"url": "maas.example.com"}, "not an absolute http"),
        ({"timeout": 0}, "timeout must be a positive"),
        ({"ca_path": "/nonexistent/ca.pem"}, "ca_path /nonexistent/ca.pem does not exist"),
    ],
)
def test_bad_settings_fail_before_any_request(monkeypatch, args, message):
    fake = FakeMaas()
    result = run_module(probe_main, args, fake, monkeypatch)
    assert result["failed"] and message in result["msg"]
    assert fake.calls == []
    assert "only:two" not in result["msg"]


def test_maas_errors_become_failures_with_error_details(monkeypatch):
    fake = FakeMaas().add("GET", "zones/", status=403, text="This method is reserved for admin users.")
    result = run_module(probe_main, {"name": "n"}, fake, monkeypatch, verbosity=4)
    assert result["failed"]
    assert "MAAS refused GET /zones/: 403" in result["msg"]
    assert result["error"]["status"] == 403 and result["error"]["type"] == "MaasAuthError"
    assert result["name"] == "n" and result["maas_log"]


def test_token_secret_is_masked_by_ansible(monkeypatch):
    seen = {}
    fake = FakeMaas().add("GET", "zones/", json=[])

    def main():
        module = base.MaasModule(argument_spec={})
        module.context.client()
        seen.update(values=set(module.module.no_log_values))
        module.module.exit_json()

    run_module(main, {}, fake, monkeypatch)
    assert SECRET in seen["values"] and API_KEY in seen["values"]


def test_insecure_https_warns(monkeypatch):
    warnings = []
    fake = FakeMaas().add("GET", "zones/", json=[])

    def main():
        module = base.MaasModule(argument_spec={})
        monkeypatch.setattr(module.context, "_warn", warnings.append)
        module.context.client()
        module.module.exit_json()

    run_module(main, {"url": "https://maas:5443/MAAS", "validate_certs": False}, fake, monkeypatch)
    assert warnings == ["validate_certs is false: the TLS certificate of MAAS is not checked"]


def test_cluster_tag():
    assert ownership.cluster_tag("prod") == "lxdcp-cluster-prod"


def _member(hostname, pod=None, zone="az1"):
    return {"hostname": hostname, "pod": {"id": pod} if pod is not None else None, "zone": {"name": zone}}


def test_replica_counts_counts_vms_per_host_and_elsewhere_per_zone():
    members = [_member("cp-1", pod=1), _member("cp-2", pod=1), _member("cp-3", pod=9, zone="az3"), _member("worker-1", zone="az2")]
    assert maas_view.replica_counts(members, {1, 2}) == ({1: 2}, {"az3": 1})


def test_replica_counts_for_bare_metal_ignores_the_vms():
    members = [_member("cp-1", pod=1), _member("worker-1", zone="az2"), _member("worker-2", zone="az2")]
    assert maas_view.replica_counts(members, {1}, vms=False) == ({}, {"az2": 2})


def test_cluster_members_is_one_filtered_request_and_none_before_the_tag_exists():
    fake = FakeMaas().add("GET", "machines/", json=[_member("cp-1", pod=1)])
    assert [m["hostname"] for m in maas_view.cluster_members(fake.client(), "prod")] == ["cp-1"]
    assert fake.calls[-1].query["tags"] == ["lxdcp-cluster-prod"] and len(fake.calls) == 1
    missing = FakeMaas().add("GET", "machines/", status=400, json={"tags": ["No such tag(s): 'lxdcp-cluster-new'."]})
    assert maas_view.cluster_members(missing.client(), "new") == []


def test_other_filter_errors_are_not_mistaken_for_a_missing_tag():
    fake = FakeMaas().add("GET", "machines/", status=400, json={"zone": ["No such zone(s): nope."]})
    with pytest.raises(MaasValidationError, match="No such zone"):
        fake.client().list_machines_tagged(["lxdcp-cluster-x"], zone="nope")


def test_a_domain_error_fails_the_module_with_its_result_fields(monkeypatch):
    def main():
        def task(context):
            raise LxdcpError("cannot do it", machine={"hostname": "cp-1"})

        base.MaasModule(argument_spec={}).run(task, machine=None, changed=False)

    result = run_module(main, {}, FakeMaas(), monkeypatch)
    assert result["failed"] and result["msg"] == "cannot do it"
    assert result["machine"] == {"hostname": "cp-1"} and result["changed"] is False and "error" not in result


def test_an_lxd_error_fails_the_module_with_its_request_details(monkeypatch):
    def main():
        def task(context):
            raise LxdNotFound("LXD at https://lxd1:8443 refused ...", status=404, method="GET", path="/1.0/instances/x",
                              lxd_error="Instance not found", url="https://lxd1:8443")

        base.MaasModule(argument_spec={}).run(task, changed=False)

    result = run_module(main, {}, FakeMaas(), monkeypatch)
    assert result["failed"] and result["error"] == {
        "type": "LxdNotFound", "status": 404, "method": "GET", "path": "/1.0/instances/x", "lxd_error": "Instance not found",
        "operation": None, "url": "https://lxd1:8443"}


def test_request_errors_refuse_unknown_details():
    with pytest.raises(TypeError, match="unexpected detail"):
        raise LxdNotFound("x", op="compose")
