"""The lxdcp.maas.lxd_multi_scheduler role against localhost.

systemd is not PID 1 on the test machine, so the role runs with
``lxd_multi_scheduler_manage_service: false`` (install, files, configuration check) and the test
starts the installed console script from the written files itself. The pip step installs the
working tree and its pinned dependencies into a fresh virtualenv (PyPI or the configured index).
"""

from __future__ import annotations

import grp
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time

import pytest
import requests
import yaml

from lxdharness import free_port, make_certificate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
SECRET = "role-test-secret-key-0123456789"
PLAYBOOK = """\
- name: Install lxd-multi-scheduler
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: lxdcp.maas.lxd_multi_scheduler
"""

pytestmark = pytest.mark.skipif(not os.path.exists(ANSIBLE_PLAYBOOK), reason="ansible-playbook is not installed in this environment")


@pytest.fixture
def target(tmp_path):
    """Paths and variables of one role installation on a fresh target."""
    base = tmp_path
    cert, key = make_certificate(str(base), "lxd-client")
    account = "daemon" if os.geteuid() == 0 else os.environ.get("USER", "daemon")  # an existing account; systemd rejects "nobody"
    group = "daemon" if os.geteuid() == 0 else grp.getgrgid(os.getgid()).gr_name
    variables = {
        "ansible_python_interpreter": sys.executable,
        "lxd_multi_scheduler_source": ROOT,
        "lxd_multi_scheduler_pip_constraints": os.path.join(ROOT, "requirements", "constraints.txt"),
        "lxd_multi_scheduler_python": sys.executable,
        "lxd_multi_scheduler_venv": str(base / "venv"),
        "lxd_multi_scheduler_system_packages": [],
        "lxd_multi_scheduler_create_user": False,
        "lxd_multi_scheduler_user": account,
        "lxd_multi_scheduler_group": group,
        "lxd_multi_scheduler_config_dir": str(base / "etc"),
        "lxd_multi_scheduler_unit_dir": str(base / "systemd"),
        "lxd_multi_scheduler_manage_service": False,
        "lxd_multi_scheduler_cpu_over_commit": 2,
        "lxd_multi_scheduler_api_keys": [SECRET],
        "lxd_multi_scheduler_hosts": [{"host": f"https://127.0.0.1:{free_port()}", "client_cert": cert, "client_key": key,
                                       "name": "lxd-a", "cpu_over_commit": 4.0}],
    }
    os.makedirs(base / "systemd")
    return {"base": base, "vars": variables}


def play(target, check=False, **overrides):
    """Run the role; return (return code, output, recap counters)."""
    path = target["base"] / "vars.json"
    path.write_text(json.dumps({**target["vars"], **overrides}))
    playbook = target["base"] / "site.yml"
    playbook.write_text(PLAYBOOK)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    command = [ANSIBLE_PLAYBOOK, "-i", "localhost,", str(playbook), "-e", f"@{path}", "--diff"] + (["--check"] if check else [])
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
    output = result.stdout + result.stderr
    recap = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", output)
    counters = dict(zip(("ok", "changed", "unreachable", "failed", "skipped"), map(int, recap.groups()))) if recap else {}
    return result.returncode, output, counters


def test_bad_input_fails_before_any_change(target):
    code, output, counters = play(target, lxd_multi_scheduler_hosts=[])
    assert code != 0 and counters["failed"] == 1 and counters["changed"] == 0
    assert "lxd_multi_scheduler_source (what to pip install) and lxd_multi_scheduler_hosts (the LXD servers) are required" in output
    code, output, _counters = play(target, lxd_multi_scheduler_api_keys=["a,b"])
    assert code != 0 and "a,b" not in output
    code, output, counters = play(target, lxd_multi_scheduler_cache_ttl=30)  # default reservation_ttl 60
    assert code != 0 and counters["failed"] == 1 and counters["changed"] == 0
    assert "lxd_multi_scheduler_reservation_ttl (60 s) must be 0 or longer than twice lxd_multi_scheduler_cache_ttl (30 s)" in output
    assert not os.path.exists(target["vars"]["lxd_multi_scheduler_venv"])


def test_check_mode_on_a_fresh_target_writes_nothing(target):
    code, output, counters = play(target, check=True)
    assert code == 0, output
    assert counters["changed"] >= 1 and counters["failed"] == 0
    assert not os.path.exists(target["vars"]["lxd_multi_scheduler_venv"])
    assert not os.path.exists(target["vars"]["lxd_multi_scheduler_config_dir"])
    assert SECRET not in output


def install_and_check_files(target):
    """First run: everything installed and written; second run: no change."""
    variables = target["vars"]
    code, output, counters = play(target)
    assert code == 0, output[-4000:]
    assert counters["changed"] >= 4 and counters["failed"] == 0
    assert SECRET not in output

    config_dir = variables["lxd_multi_scheduler_config_dir"]
    config_path = os.path.join(config_dir, "config.yml")
    config = yaml.safe_load(open(config_path, encoding="utf-8"))
    assert config["hosts"] == variables["lxd_multi_scheduler_hosts"]
    assert (config["cpu_over_commit"], config["port"], config["strategy"]) == (2.0, 8080, "least-allocated-cpu")
    assert config["lxd_insecure_skip_verify"] is False  # verified TLS unless the role is told otherwise
    for name in ("config.yml", "secrets.env"):
        info = os.stat(os.path.join(config_dir, name))
        assert stat.S_IMODE(info.st_mode) == 0o640 and grp.getgrgid(info.st_gid).gr_name == variables["lxd_multi_scheduler_group"]
    secrets = open(os.path.join(config_dir, "secrets.env"), encoding="utf-8").read()
    assert f'LXD_MULTI_SCHEDULER_API_KEYS="{SECRET}"' in secrets and "REDIS_URL" not in secrets
    unit = open(os.path.join(variables["lxd_multi_scheduler_unit_dir"], "lxd-multi-scheduler.service"), encoding="utf-8").read()
    assert f"ExecStart={variables['lxd_multi_scheduler_venv']}/bin/lxd-multi-scheduler" in unit
    assert f"Environment=LXD_MULTI_SCHEDULER_CONFIG={config_path}" in unit
    assert f"EnvironmentFile=-{config_dir}/secrets.env" in unit

    code, output, counters = play(target)
    assert code == 0 and counters["changed"] == 0, output[-4000:]
    code, output, counters = play(target, check=True)
    assert code == 0 and counters["failed"] == 0, output[-4000:]


def check_config_guard(target):
    """A configuration that fails --check-config does not replace the current one."""
    config_path = os.path.join(target["vars"]["lxd_multi_scheduler_config_dir"], "config.yml")
    before = open(config_path, encoding="utf-8").read()
    broken = [{**target["vars"]["lxd_multi_scheduler_hosts"][0], "client_key": "/nonexistent/client.key"}]
    code, output, _counters = play(target, lxd_multi_scheduler_hosts=broken)
    assert code != 0
    assert "client_key file not found: /nonexistent/client.key" in output
    assert open(config_path, encoding="utf-8").read() == before


def verify_unit(target):
    """systemd-analyze accepts the unit file (when it is installed)."""
    if not shutil.which("systemd-analyze"):
        return
    unit = os.path.join(target["vars"]["lxd_multi_scheduler_unit_dir"], "lxd-multi-scheduler.service")
    result = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True, check=False)
    problems = [line for line in result.stderr.splitlines() if "lxd-multi-scheduler.service" in line]
    assert not problems, result.stderr


def serve_from_written_files(target):
    """The installed console script serves with the written configuration and secrets."""
    variables = target["vars"]
    config_dir = variables["lxd_multi_scheduler_config_dir"]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LXD_MULTI", "REDIS_URL"))}
    for line in open(os.path.join(config_dir, "secrets.env"), encoding="utf-8"):
        if "=" in line and not line.startswith("#"):
            name, value = line.strip().split("=", 1)
            env[name] = json.loads(value)  # the file's values are double-quoted with JSON-compatible escapes
    env["LXD_MULTI_SCHEDULER_CONFIG"] = os.path.join(config_dir, "config.yml")
    ready = target["base"] / "ready"
    binary = os.path.join(variables["lxd_multi_scheduler_venv"], "bin", "lxd-multi-scheduler")
    with subprocess.Popen([binary, "--port", "0", "--ready-file", str(ready)], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL) as process:
        try:
            deadline = time.monotonic() + 30
            while not ready.exists() and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.05)
            url = ready.read_text().strip()
            assert requests.get(url + "/healthz", timeout=10).status_code == 200
            assert requests.get(url + "/hosts", timeout=10).status_code == 401
            hosts = requests.get(url + "/hosts", headers={"X-API-Key": SECRET}, timeout=10).json()["hosts"]
            assert [(h["name"], h["ok"], h["cpu_over_commit"]) for h in hosts] == [("lxd-a", False, 4.0)]
        finally:
            process.terminate()
            process.wait(timeout=15)


def test_install_rerun_guard_and_serve(target):
    """One target through its life: install, idempotent re-run, a rejected configuration, the unit, the service."""
    install_and_check_files(target)
    check_config_guard(target)
    verify_unit(target)
    serve_from_written_files(target)
