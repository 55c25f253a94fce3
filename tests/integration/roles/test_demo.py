"""``scripts/demo.py`` end to end, on its own port and state directory, as ``make demo`` runs it.

The demo starts a background maas-sim, brings the demo control plane up twice (the second run must report
``changed=0`` and send no write), and prints the commands to tear it down and to stop the simulator; the test
runs both and checks that they do what they say.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import urllib.request

from ansible_collections.lxdcp.maas.plugins.module_utils.maas.api import MaasClient
from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import ROOT
from ansible_collections.lxdcp.maas.tests.integration.roles.maas_state import record_ips

DEMO = os.path.join(ROOT, "scripts", "demo.py")
DEMO_HOSTS = ("demo-cp-1", "demo-cp-2", "demo-cp-3")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def demo(*args, timeout=900):
    """Run scripts/demo.py with this interpreter; return the CompletedProcess (output as text)."""
    env = dict(os.environ)
    for name in ("MAAS_URL", "MAAS_API_KEY", "ANSIBLE_CONFIG"):
        env.pop(name, None)
    return subprocess.run([sys.executable, DEMO] + list(args), cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def command_line(pid):
    """The command line of process ``pid`` ("" when there is none)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def answers(url):
    """Whether maas-sim's admin API answers at the MAAS ``url``."""
    try:
        with urllib.request.urlopen(url.rsplit("/MAAS", 1)[0] + "/_sim/", timeout=5):
            return True
    except OSError:
        return False


def printed_command(output, comment):
    """The command the demo printed on the line ending with ``# <comment>``."""
    for line in output.splitlines():
        text, _hash, note = line.partition("      # ")
        if note.startswith(comment):
            return text.strip()
    raise AssertionError("the demo printed no command for %r:\n%s" % (comment, output[-3000:]))


def test_demo_end_to_end_on_its_own_port_and_state_dir(tmp_path):
    # Another simulator, recorded in another state directory: the demo must leave it alone.
    other_dir = tmp_path / "other-state"
    served = demo("--serve", "--port", str(free_port()), "--state-dir", str(other_dir), timeout=60)
    other_url = served.stdout.strip()
    assert served.returncode == 0 and answers(other_url), served.stdout + served.stderr
    state_dir = tmp_path / "demo-state"
    port = free_port()
    done = demo("--port", str(port), "--state-dir", str(state_dir))
    output = done.stdout + done.stderr
    try:
        assert answers(other_url), "the demo stopped the maas-sim of another state directory"
        assert done.returncode == 0, output[-5000:]
        # The simulator it started is recorded in our state directory, on our port.
        url = (state_dir / "maas-sim.url").read_text(encoding="utf-8").strip()
        assert url == "http://127.0.0.1:%d/MAAS" % port
        pid = int((state_dir / "maas-sim.pid").read_text(encoding="utf-8"))
        assert "maas-sim" in command_line(pid) and answers(url)

        # The second run: changed=0 on every host, and no write to MAAS.
        for host in DEMO_HOSTS:
            assert re.search(r"^\s+%s\s+changed=0$" % host, output, re.MULTILINE), output[-3000:]
        assert re.search(r"^\s+\d+ read requests to MAAS, 0 writes$", output, re.MULTILINE), output[-3000:]
        maas = MaasClient(url, "lxdcp:sim-token:sim-secret")
        assert record_ips(maas, "demo-api.maas") == ["10.10.0.101", "10.10.0.102", "10.10.0.103"]

        # The printed teardown command works as printed.
        teardown = printed_command(output, "tear the control plane down")
        assert "--state-dir" not in teardown and "MAAS_URL=%s" % url in teardown
        torn = subprocess.run(teardown, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
        assert torn.returncode == 0, torn.stdout[-3000:] + torn.stderr[-3000:]
        assert maas.list_machines(hostname=list(DEMO_HOSTS)) == []
        assert record_ips(maas, "demo-api.maas") is None

        # The printed stop command names our state directory.
        stop = printed_command(output, "stop maas-sim")
        assert shlex.split(stop)[-2:] == ["--state-dir", str(state_dir)]
    finally:
        stopped = demo("--stop", "--state-dir", str(state_dir), timeout=60)
        demo("--stop", "--state-dir", str(other_dir), timeout=60)
    assert stopped.returncode == 0 and stopped.stdout.strip() == "Stopped maas-sim (pid %d)." % pid
    assert "maas-sim" not in command_line(pid)
    assert not (state_dir / "maas-sim.pid").exists()
    assert not answers(url), "maas-sim still answers at %s after --stop" % url
