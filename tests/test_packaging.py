"""Packaging: setup installs without warnings (issue 9: setuptools warned at every setup).

setuptools warns when a folder Python could import is not in ``[tool.setuptools] packages``
(and once warned for the old ``project.license`` table); ``make setup`` silences only its
notice common to every editable install. These check the causes, not pip's output.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _config() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def test_every_importable_folder_is_a_listed_package() -> None:
    setuptools = _config()["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = set()
    for package, folder in setuptools["package-dir"].items():
        root = REPO_ROOT / folder
        for sub in [root, *root.rglob("*")]:
            if sub.is_dir() and sub.name != "__pycache__" and any(sub.iterdir()):
                relative = sub.relative_to(root).parts
                found.add(".".join((package, *relative)))
    missing = found - listed
    assert not missing, f"importable folders setuptools would warn about: {sorted(missing)}"
    # And the other way: a listed package that is no folder is a typo the wheel would hide.
    assert listed <= found, f"listed packages with no folder: {sorted(listed - found)}"


def test_license_is_an_spdx_string() -> None:
    assert _config()["project"]["license"] == "Apache-2.0"


def test_the_data_files_are_package_data() -> None:
    data = _config()["tool"]["setuptools"]["package-data"]
    shipped = {p.name for p in (REPO_ROOT / "tracking" / "data").glob("*.json")}
    assert shipped and data["orbitlink.tracking.data"] == ["*.json"]
