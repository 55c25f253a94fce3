"""The execution environment's build context: ``make ee-context`` (``ansible-builder create``) and what it holds.

No container engine runs here (nor in CI), so the image is not built: the test checks the Containerfile and the
requirement files ansible-builder wrote, and the collection archive the galaxy stage installs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile

import yaml

from ansible_collections.lxdcp.maas.tests.integration.awx.awxjob import ROOT


def _yaml(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_ee_context_holds_the_collection_and_its_requirements(tmp_path):
    build = tmp_path / "ee"
    env = dict(os.environ, PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", os.defpath)]))
    done = subprocess.run(["make", "-s", "-o", "venv", "-o", "collection-tree", "ee-context", "EE_BUILD=%s" % build],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    definition = _yaml(os.path.join(ROOT, "extensions", "ee", "execution-environment.yml"))
    assert definition["version"] == 3
    context = build / "context"
    with open(context / "Containerfile", encoding="utf-8") as handle:
        steps = [line.strip() for line in handle if line.strip()]

    # The base image of the definition; the galaxy stage installs requirements.yml from /build (where _build goes);
    # the builder stage introspects the installed collections with our requirements.txt; the final stage checks ansible.
    assert 'ARG EE_BASE_IMAGE="%s"' % definition["images"]["base_image"]["name"] in steps
    galaxy = steps.index("FROM base AS galaxy")
    copy, workdir = steps.index("COPY _build /build", galaxy), steps.index("WORKDIR /build", galaxy)
    install = next(i for i, step in enumerate(steps) if "ansible-galaxy collection install" in step)
    assert galaxy < copy < workdir < install and "-r requirements.yml" in steps[install]
    assert any(step.startswith("RUN $PYCMD /output/scripts/introspect.py introspect --user-pip=requirements.txt") for step in steps)
    assert "RUN /output/scripts/check_ansible $PYCMD" in steps

    # requirements.txt is the collection's; requirements.yml names the archive that the context holds.
    with open(os.path.join(ROOT, "requirements.txt"), encoding="utf-8") as ours, open(context / "_build" / "requirements.txt", encoding="utf-8") as theirs:
        assert theirs.read() == ours.read()
    collections = _yaml(context / "_build" / "requirements.yml")["collections"]
    assert [entry["type"] for entry in collections] == ["file"]
    archive = context / "_build" / collections[0]["name"]
    galaxy_yml = _yaml(os.path.join(ROOT, "galaxy.yml"))
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
        names = set(tar.getnames())
        ee_meta = yaml.safe_load(tar.extractfile("meta/execution-environment.yml"))
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == ("lxdcp", "maas", galaxy_yml["version"])
    assert {"playbooks/control_plane.yml", "plugins/modules/maas_lxd_vm.py", "requirements.txt"} <= names
    assert ee_meta["dependencies"]["python"] == "requirements.txt"  # what introspect.py reads in the builder stage
