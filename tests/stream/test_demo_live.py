"""``orbitlink demo`` as the README runs it (here as fast as possible): it keeps what it made
in a folder and says where, prints the engine's own rate beside the replay's pace, says which
withheld object each UCT is and explains its object counts; ``orbitlink evaluate`` says where
its plot went."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from orbitlink.stream.demo import default_out

REPO_ROOT = Path(__file__).resolve().parents[2]


def _orbitlink(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orbitlink.stream.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_default_out_is_a_dated_folder_under_runs() -> None:
    assert default_out(0.0) == Path("runs/demo-19700101-000000")


def test_the_demo_keeps_and_explains_its_results(tmp_path: Path) -> None:
    demo = _orbitlink("demo", "--speed", "0", cwd=tmp_path)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    out = demo.stdout
    (work,) = re.findall(r"everything goes to (runs/demo-\d{8}-\d{6})", out)
    folder = tmp_path / work
    for kept in ("results/evaluation.png", "results/associations.jsonl", "stack/worker.log"):
        assert (folder / kept).is_file(), kept
    assert f"kept in {work}" in out
    assert re.search(r"\d+ objects detected at least once, \d+ of them 3 times or more", out)
    assert re.search(r"replay pace: [\d,]+ detections/s", out)
    assert re.search(r"engine: [\d,]+ detections/s of the worker's busy time", out)
    # Each UCT is said to be what it is; every withheld object came out as one. (A catalogued
    # object may be missed: a short arc of a set in the manoeuvring Starlink class, whose
    # fitted error is tens of seconds at a day, can stay below the naming odds.)
    ucts = re.findall(r"^  (\S+-\d{6}) +is (withheld object|catalogued|clutter)", out, re.M)
    kinds = [kind for _, kind in ucts]
    assert kinds.count("withheld object") >= 3, out[-2500:]
    assert "withheld objects with no UCT" not in out, out[-2500:]

    scenario = folder / "scenario"
    plot = tmp_path / "again.png"
    evaluate = _orbitlink(
        "evaluate",
        "--truth",
        str(scenario / "truth.json"),
        "--results",
        str(folder / "results"),
        "--plot",
        str(plot),
        cwd=tmp_path,
    )
    assert evaluate.returncode == 0, evaluate.stderr[-2000:]
    assert evaluate.stdout.rstrip().endswith(f"plot: {plot}") and plot.is_file()
