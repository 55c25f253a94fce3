"""The services' wheel carries every package under src/ and the default scenario (a non-editable install works)."""

from __future__ import annotations

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
    assert "lxdcp_maas_core/placement/core.py" in names
