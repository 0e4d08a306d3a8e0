"""The docs say what the code does: the generated settings tables are current."""

from __future__ import annotations

from pathlib import Path

import pytest

from orbitlink.tracking.settings import update_settings_tables

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((REPO_ROOT / "docs").glob("*.md")) + [REPO_ROOT / "README.md"]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_settings_tables_match_the_code(path: Path) -> None:
    text = path.read_text()
    assert update_settings_tables(text) == text, f"{path.name} is out of date: run `make docs`"


def test_every_settings_class_has_a_table_somewhere() -> None:
    from orbitlink.stream.settings import StreamSettings
    from orbitlink.tracking.correlation import CorrelationSettings
    from orbitlink.tracking.simulate import ScenarioSettings
    from orbitlink.tracking.tracker import TrackerSettings

    text = "".join(path.read_text() for path in DOCS)
    for cls in (TrackerSettings, CorrelationSettings, ScenarioSettings, StreamSettings):
        marker = f"<!-- settings-table: {cls.__module__}.{cls.__name__} -->"
        # The public path of a class may be its package (orbitlink.tracking.correlation).
        package = cls.__module__.rsplit(".", 1)[0]
        assert marker in text or f"<!-- settings-table: {package}.{cls.__name__} -->" in text


def test_no_file_holds_a_merge_conflict() -> None:
    import subprocess

    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    markers = ("<<<<<<< ", ">>>>>>> ")
    found = []
    for name in tracked:
        path = REPO_ROOT / name
        if path.suffix not in {".md", ".py", ".toml", ".yml", ".yaml", ".sh", ".txt"}:
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if line.startswith(markers):
                found.append(f"{name}:{number}")
    assert not found, found
