"""Configuration: LXD_MULTI_HOSTS (shoes-lxd-multi format), file, precedence, clear errors, no secret leaks."""

from __future__ import annotations

import json
import socket

import pytest

from lxd_multi_scheduler import cli
from lxd_multi_scheduler.config import ConfigError, load_settings


@pytest.fixture
def hosts_env(cert_files):
    cert, key = cert_files
    return json.dumps([
        {"host": "https://192.0.2.100:8443", "client_cert": cert, "client_key": key},
        {"host": "https://192.0.2.101:8443/", "client_cert": cert, "client_key": key},
    ])


def test_shoes_lxd_multi_hosts_format(hosts_env):
    settings = load_settings(env={"LXD_MULTI_HOSTS": hosts_env})
    assert [host.label for host in settings.hosts] == ["https://192.0.2.100:8443", "https://192.0.2.101:8443"]
    assert settings.port == 8080
    assert settings.bind == "127.0.0.1"
    assert settings.strategy == "least-allocated-cpu"
    assert settings.redis_url is None


def test_file_then_environment_then_flags(tmp_path, hosts_env, cert_files):
    cert, key = cert_files
    path = tmp_path / "scheduler.yml"
    path.write_text(
        "port: 9000\ncache_ttl: 2\ncpu_over_commit: 4\nreservation_ttl: 30\napi_keys: [from-file]\n"
        f"hosts:\n  - {{host: 'https://10.0.0.1:8443', client_cert: {cert}, client_key: {key}, name: file-host}}\n"
    )
    from_file = load_settings(str(path), env={})
    assert (from_file.port, from_file.cache_ttl, from_file.cpu_over_commit, from_file.reservation_ttl) == (9000, 2, 4, 30)
    assert [host.label for host in from_file.hosts] == ["file-host"]

    env = {"LXD_MULTI_HOSTS": hosts_env, "LXD_MULTI_SCHEDULER_PORT": "9100", "REDIS_URL": "redis://:pw@127.0.0.1:6379/0",
           "LXD_MULTI_SCHEDULER_API_KEYS": "k1, k2"}
    merged = load_settings(str(path), env=env)
    assert merged.port == 9100
    assert len(merged.hosts) == 2  # LXD_MULTI_HOSTS replaces the file's hosts
    assert [key.get_secret_value() for key in merged.api_keys] == ["from-file", "k1", "k2"]
    assert merged.redis_url.get_secret_value() == "redis://:pw@127.0.0.1:6379/0"
    assert load_settings(str(path), env=env, port=0).port == 0


def test_config_file_path_from_environment(tmp_path, hosts_env):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"strategy": "most-free"}))
    settings = load_settings(env={"LXD_MULTI_HOSTS": hosts_env, "LXD_MULTI_SCHEDULER_CONFIG": str(path)})
    assert settings.strategy == "most-free"


@pytest.mark.parametrize("change, message", [
    ({"cache_tll": 3}, "cache_tll: unknown setting"),
    ({"cpu_over_commit": 0}, "cpu_over_commit: Input should be greater than 0"),
    ({"strategy": "random"}, "strategy: unknown strategy 'random'; known: balanced, least-allocated-cpu, most-free"),
    ({"port": 70000}, "port: Input should be less than or equal to 65535"),
    ({"reservation_ttl": -1}, "reservation_ttl: Input should be greater than or equal to 0"),
    ({"log_level": "loud"}, "log_level: Input should be"),
    ({"api_keys": [""]}, "api_keys: an API key is empty"),
    ({"reservation_ttl": 10, "cache_ttl": 5}, "reservation_ttl (10 s) must be longer than twice cache_ttl (10 s)"),
])
def test_bad_settings_are_named(make_settings, change, message):
    with pytest.raises(ConfigError, match="invalid configuration") as caught:
        make_settings(**change)
    assert message in str(caught.value)


@pytest.mark.parametrize("change, message", [
    ({"host": "http://192.0.2.1:8443"}, "hosts.0.host: must be an https:// URL"),
    ({"client_cert": "/nonexistent/c.crt"}, "hosts.0.client_cert: client_cert file not found: /nonexistent/c.crt"),
    ({"server_cert": "/nonexistent/s.crt"}, "hosts.0.server_cert: server_cert file not found"),
    # A key given inline (its PEM text) is not repeated.
    ({"client_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n"},
     "hosts.0.client_key: client_key file not found: (PEM text, not a file path)"),
    ({"cpu_over_commit": -2}, "hosts.0.cpu_over_commit: Input should be greater than 0"),
    ({"zone ": "az1"}, "hosts.0.zone : unknown setting"),
])
def test_bad_host_entries_are_named(make_settings, change, message):
    with pytest.raises(ConfigError) as caught:
        make_settings(names=("lxd1",), hosts_extra={"lxd1": change})
    assert message in str(caught.value)


def test_pin_and_ca_are_exclusive(make_settings, cert_files):
    with pytest.raises(ConfigError, match="set server_cert .* or ca_cert .*, not both"):
        make_settings(names=("lxd1",), hosts_extra={"lxd1": {"server_cert": cert_files[0], "ca_cert": cert_files[0]}})


def test_duplicate_names(make_settings):
    with pytest.raises(ConfigError, match="two hosts are named 'lxd1'"):
        make_settings(names=("lxd1", "lxd1"))


@pytest.mark.parametrize("env, message", [
    ({}, "no LXD server configured: set LXD_MULTI_HOSTS"),
    ({"LXD_MULTI_HOSTS": "[{"}, "LXD_MULTI_HOSTS is not valid JSON"),
    ({"LXD_MULTI_HOSTS": '{"host": "x"}'}, "LXD_MULTI_HOSTS must be a JSON array"),
    ({"LXD_MULTI_HOSTS": "[{}]"}, "hosts.0.host: Field required"),
    ({"LXD_MULTI_SCHEDULER_CONFIG": "/nonexistent.yml"}, "cannot read configuration file /nonexistent.yml"),
])
def test_environment_errors(env, message):
    with pytest.raises(ConfigError) as caught:
        load_settings(env=env)
    assert message in str(caught.value)


def test_config_file_must_be_a_mapping(tmp_path):
    path = tmp_path / "list.yml"
    path.write_text("- 1\n")
    with pytest.raises(ConfigError, match="must hold a mapping, not a list"):
        load_settings(str(path), env={})
    path.write_text("port: [\n")
    with pytest.raises(ConfigError, match="not valid YAML/JSON"):
        load_settings(str(path), env={})


def test_secrets_stay_out_of_reprs_and_errors(make_settings):
    settings = make_settings(api_keys=["s3cret-key"], redis_url="redis://:hunter2@127.0.0.1/0")
    assert "s3cret-key" not in repr(settings) and "hunter2" not in repr(settings)
    with pytest.raises(ConfigError) as caught:
        make_settings(api_keys=["s3cret-key", ""], redis_url="redis://:hunter2@127.0.0.1/0", port="x")
    assert "s3cret-key" not in str(caught.value) and "hunter2" not in str(caught.value)


def test_check_config_prints_a_summary_without_secrets(tmp_path, cert_files, capsys, monkeypatch):
    cert, key = cert_files
    monkeypatch.setenv("LXD_MULTI_HOSTS", json.dumps([{"host": "https://192.0.2.1:8443", "client_cert": cert, "client_key": key}]))
    monkeypatch.setenv("LXD_MULTI_SCHEDULER_API_KEYS", "top-secret")
    monkeypatch.setenv("REDIS_URL", "redis://:hunter2@127.0.0.1/0")
    assert cli.main(["--check-config", "--port", "9999"]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out)
    assert summary["port"] == 9999 and summary["store"] == "redis" and summary["api_keys"] == 1
    assert summary["hosts"] == [{"name": "https://192.0.2.1:8443", "url": "https://192.0.2.1:8443"}]
    assert "top-secret" not in out and "hunter2" not in out


def test_cli_reports_a_bad_configuration(monkeypatch, capsys):
    monkeypatch.delenv("LXD_MULTI_HOSTS", raising=False)
    monkeypatch.delenv("LXD_MULTI_SCHEDULER_CONFIG", raising=False)
    assert cli.main(["--check-config"]) == 2
    assert "no LXD server configured" in capsys.readouterr().err


def test_cli_reports_a_port_in_use(monkeypatch, capsys, cert_files):
    cert, key = cert_files
    monkeypatch.setenv("LXD_MULTI_HOSTS", json.dumps([{"host": "https://192.0.2.1:8443", "client_cert": cert, "client_key": key}]))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert cli.main(["--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in capsys.readouterr().err
