"""The collection as users get it: the tarball of ``ansible-galaxy collection build``, installed with
``ansible-galaxy collection install --offline`` into an empty collections path, and the main job
``lxdcp.maas.control_plane`` run from that installed copy (the checkout's ``collections/`` tree not visible)
against maas-sim.

It catches ``build_ignore`` mistakes both ways: a file the collection needs left out of the tarball (the job or a
listed file is missing), and development trees shipped in it (``.venv``, test output, the docs build...).
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile

from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import ROOT, ansible_python
from ansible_collections.lxdcp.maas.tests.integration.roles.maas_state import cluster_machines, static_ips
from ansible_collections.lxdcp.maas.tests.integration.roles.runner import ClusterRunner, Run

# What the collection is: every tracked file under these paths must be in the tarball.
SHIPPED = ("plugins/", "roles/", "playbooks/", "meta/", "docs/", "changelogs/changelog.yaml", "README.md",
           "requirements.txt")
# What it is not: development trees and outputs (top-level names of the checkout).
NOT_SHIPPED = (".venv", ".git", ".ansible", ".pytest_cache", ".hypothesis", "collections", "build", "dist", "src",
               "scripts", "benchmarks", "requirements", "tests/output", "Makefile", "pyproject.toml", "Dockerfile")

DEMO_IPS = {"demo-cp-1": "10.10.0.101", "demo-cp-2": "10.10.0.102", "demo-cp-3": "10.10.0.103"}


def _galaxy(*args, env=None, cwd=None):
    """Run ``ansible-galaxy`` of the controller under test; fail the test with its output when it fails."""
    command = [os.path.join(os.path.dirname(ansible_python()), "ansible-galaxy")] + list(args)
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, "%s\nstdout:\n%s\nstderr:\n%s" % (" ".join(command), done.stdout, done.stderr)
    return done.stdout


def _tracked_files():
    done = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [path for path in done.stdout.split("\0") if path]


def test_the_tarball_installs_offline_and_runs_the_main_job(maas_sim, tmp_path):
    # Built from the checkout as a release is.
    dist = tmp_path / "dist"
    _galaxy("collection", "build", "--output-path", str(dist), ROOT, cwd=str(tmp_path))
    (tarball,) = list(dist.glob("lxdcp-maas-*.tar.gz"))

    with tarfile.open(tarball) as archive:
        members = set(archive.getnames())
    shipped_wrongly = sorted(name for name in members for prefix in NOT_SHIPPED
                             if name == prefix or name.startswith(prefix + "/"))
    assert not shipped_wrongly, "development files in the tarball: %s" % shipped_wrongly[:20]
    tracked = [path for path in _tracked_files() if path.startswith(SHIPPED) and os.path.isfile(os.path.join(ROOT, path))]
    missing = sorted(set(tracked) - members)
    assert not missing, "tracked files missing from the tarball (build_ignore?): %s" % missing
    assert {"MANIFEST.json", "FILES.json", "playbooks/control_plane.yml", "docs/docsite/extra-docs.yml"} <= members

    # Installed from the tarball alone (no Galaxy) into an empty path, the only one Ansible sees.
    installed = tmp_path / "installed"
    installed.mkdir()
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
               ANSIBLE_HOME=str(tmp_path / ".ansible"))
    env.pop("PYTHONPATH", None)
    _galaxy("collection", "install", "--offline", "-p", str(installed), str(tarball), env=env, cwd=str(tmp_path))
    listed = json.loads(_galaxy("collection", "list", "--format", "json", env=env, cwd=str(tmp_path)))
    # (ansible-core's own internal collections, ansible._protomatter on 2.19, are listed too)
    assert {path: sorted(found) for path, found in listed.items() if "lxdcp.maas" in found} == {
        str(installed / "ansible_collections"): ["lxdcp.maas"]}
    copy = installed / "ansible_collections" / "lxdcp" / "maas"
    assert not (copy / "tests" / "output").exists() and not (copy / ".venv").exists()

    # The main job by its collection name, with the installed copy's example inventory.
    runner = ClusterRunner(maas_sim, tmp_path / "run")
    os.makedirs(runner.workdir)
    job_env = dict(runner.env(), ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false")
    options = runner.options(str(copy / "playbooks" / "inventory" / "demo.yml"))
    run = runner.base.execute("lxdcp.maas.control_plane", options, env=job_env, result_class=Run)
    assert run.ok, "%r\n%s\n%s" % (run, run.stdout[-3000:], run.stderr[-3000:])
    assert run.writes, "the first run of the installed job changed nothing in MAAS"

    from ansible_collections.lxdcp.maas.plugins.module_utils.maas.api import MaasClient  # pylint: disable=import-outside-toplevel

    machines = {m["hostname"]: m for m in cluster_machines(MaasClient(maas_sim.url, maas_sim.api_key), "demo")}
    assert sorted(machines) == sorted(DEMO_IPS)
    assert {name: machine["status_name"] for name, machine in machines.items()} == dict.fromkeys(DEMO_IPS, "Deployed")
    assert {name: static_ips(machine) for name, machine in machines.items()} == {n: [ip] for n, ip in DEMO_IPS.items()}
