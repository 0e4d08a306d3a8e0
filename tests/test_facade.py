"""The orbitlink facade: every name it promises is there, and importing it pulls in no Kafka."""

from __future__ import annotations

import subprocess
import sys


def test_facade_exports_resolve() -> None:
    import orbitlink

    for name in orbitlink.__all__:
        assert getattr(orbitlink, name) is not None, name


def test_importing_the_library_starts_no_kafka_client() -> None:
    code = "import sys, orbitlink; print(sorted({'faust', 'aiokafka'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_generic_top_level_packages_are_installed(tmp_path) -> None:
    """The wheel installs orbitlink only: 'tracking' and 'stream' stay free for other
    distributions (run from an empty folder, so the checkout itself is not on the path)."""
    code = (
        "import importlib.util as u; "
        "print([n for n in ('tracking', 'stream') if u.find_spec(n) is not None])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == "[]"
