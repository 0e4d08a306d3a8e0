"""Packaging: setup installs without warnings (issue 9: setuptools warned at every setup).

setuptools warns when a folder Python could import is not in ``[tool.setuptools] packages``
(and once warned for the old ``project.license`` table); ``make setup`` silences only its
notice common to every editable install. These check the causes, not pip's output.
"""

from __future__ import annotations

import subprocess
import sys
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


def _run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_facade_imports_each_name_when_first_used() -> None:
    out = _run_python(
        "import sys, orbitlink\n"
        "print(sorted(m for m in sys.modules if m.startswith('orbitlink.tracking.')))\n"
        "names = [getattr(orbitlink, n) for n in orbitlink.__all__]\n"
        "print(all(getattr(n, '__name__', None) for n in names))\n"
    )
    first, second = out.splitlines()
    assert first == "[]"
    assert second == "True"


def test_modules_with_shared_imports_load_in_either_order() -> None:
    # pipeline -> candidates -> correlation -> identify, which names candidates' cache.
    _run_python("import orbitlink.tracking.candidates")
    _run_python("import orbitlink.tracking.pipeline")
    _run_python("from orbitlink import Pipeline, correlate_tracks")


def test_the_offline_replay_loads_no_kafka_client_and_no_scipy_stats() -> None:
    # What `orbitlink replay --offline` imports: Kafka stays out of an offline run, and
    # scipy.stats (about half a second to import) is not needed for chi-square quantiles.
    out = _run_python(
        "import sys\n"
        "import orbitlink.stream.replay, orbitlink.tracking.offline\n"
        "import orbitlink.tracking.monitoring\n"
        "print(sorted(m for m in ('aiokafka', 'faust', 'scipy.stats') if m in sys.modules))\n"
    )
    assert out.strip() == "[]"
