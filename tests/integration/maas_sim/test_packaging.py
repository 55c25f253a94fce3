"""The services' wheel carries every package under src/ and the default scenario (a non-editable install works),
and of the collection only what the scheduler imports: the placement core, the size grammar and the errors' wording
helpers, without Ansible."""

from __future__ import annotations

import ast
import glob
import os
import shutil
import subprocess
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def test_the_wheel_has_every_package_and_the_scenarios(tmp_path):
    # Built from a copy: setuptools' build/ directory in the working tree could hide a missing package.
    tree = tmp_path / "tree"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(os.path.join(ROOT, "src"), str(tree / "src"), ignore=ignore)
    shutil.copytree(os.path.join(ROOT, "plugins", "module_utils"), str(tree / "plugins" / "module_utils"), ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), str(tree / name))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(tmp_path), str(tree)], check=True, capture_output=True, cwd=str(tmp_path))
    [wheel] = glob.glob(os.path.join(str(tmp_path), "*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    src = os.path.join(ROOT, "src")
    for directory, _dirs, files in os.walk(src):
        if "__init__.py" in files:
            package = os.path.relpath(directory, src).replace(os.sep, "/")
            assert package + "/__init__.py" in names, package
    assert "maas_sim/scenarios/default.yml" in names
    # plugins/module_utils/__init__.py (empty), errors.py, placement/ and units.py; not common.py, client.py, ... (they
    # import ansible).
    assert sorted(name for name in names if name.startswith("lxdcp_maas_core/")) == [
        "lxdcp_maas_core/__init__.py",
        "lxdcp_maas_core/errors.py",
        "lxdcp_maas_core/placement/__init__.py",
        "lxdcp_maas_core/placement/core.py",
        "lxdcp_maas_core/placement/explain.py",
        "lxdcp_maas_core/units.py",
    ]
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(name for name in names if name.endswith(".py")):
            tree = ast.parse(archive.read(name), filename=name)
            imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
            imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
            assert not {module for module in imported if module.split(".")[0] in ("ansible", "ansible_collections")}, name
