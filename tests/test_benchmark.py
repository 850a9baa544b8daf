"""scripts/benchmark.py --quick runs end to end (simulators, real kernel, live widgets) and prints every target.

Never a figure against its target: only that each row is there with a number, that the answers
were checked, and that the script exits 0 whatever the figures.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
SCRIPT = SCRIPTS / "benchmark.py"
ROWS = (
    ("1", "kernel cost, markdown: chat with widgets / raw SDK"),
    ("1", "kernel cost, paragraph: chat with widgets / raw SDK"),
    ("2", "first chunk to first paint (ms)"),
    ("3", "frontend messages per second, markdown"),
    ("3", "frontend messages per second, paragraph"),
    ("4", "frontend bytes / answer bytes, markdown"),
    ("4", "frontend bytes / answer bytes, paragraph"),
    ("5", "%load_ext heroku_magic, fresh interpreter (ms)"),
    ("6", "8-config explore grid / one chat, 1 s to first token"),
    ("7", "threads alive, 64-config grid (target: as in an 8-config grid)"),
    ("8", "last turns of a long conversation: chat / raw SDK, same history"),
    ("8", "kernel memory growth per turn (KB)"),
)
# --quick: one run per shape, one chat and one 8-config grid at 1 s to first token, grids of 8 and
# 64 for the threads, 40 conversation turns.
QUICK_ANSWERS = 2 + 1 + 8 + 8 + 64 + 40


def report_module() -> ModuleType:
    """scripts/benchmark_report.py, imported from its file."""
    spec = importlib.util.spec_from_file_location("benchmark_report", SCRIPTS / "benchmark_report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def parse(output: str) -> tuple[list[list[str]], str]:
    """The table's rows, each [target, measure, figure, target, result, detail], and its final line."""
    lines = output.splitlines()
    start = next(
        i
        for i, line in enumerate(lines)
        if re.split(r"\s{2,}", line.strip())[:3] == ["#", "measure", "figure"]
    )
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("targets met:"):
            return rows, line
        rows.append(re.split(r"\s{2,}", line.strip(), maxsplit=5))
    raise AssertionError("no 'targets met' line after the table")


def check_rows(rows: list[list[str]], final: str) -> None:
    """Every row has a target, a number (or n/a for #2, the only figure that may be missing), pass/miss."""
    assert [(row[0], row[1]) for row in rows] == list(ROWS)
    for target, measure, figure, goal, result, *_ in rows:
        assert re.fullmatch(r"(<=|==) -?\d+(\.\d+)?", goal), (measure, goal)
        if figure == "n/a":
            assert target == "2" and result == "n/a", measure
        else:
            float(figure)
            assert result in ("pass", "miss"), (measure, result)
    met = sum(
        all(row[4] == "pass" for row in rows if row[0] == target) for target in {row[0] for row in rows}
    )
    assert final == f"targets met: {met} of 8"


@pytest.mark.timeout(300)
def test_quick_benchmark_prints_every_target(tmp_path: Path) -> None:
    pytest.importorskip("jupyter_client")
    pytest.importorskip("ipykernel")
    chart = tmp_path / "targets.png"
    drawing = importlib.util.find_spec("matplotlib") is not None
    command = [sys.executable, str(SCRIPT), "--quick", *(["--chart", str(chart)] if drawing else [])]
    done = subprocess.run(command, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stdout + done.stderr
    rows, final = parse(done.stdout)
    check_rows(rows, final)
    figures = {(row[0], row[1]): row[2] for row in rows}
    details = {(row[0], row[1]): row[5] if len(row) > 5 else "" for row in rows}
    for key in ROWS:
        if key[0] != "2" and "memory" not in key[1]:  # no paint logged yet; memory may even shrink
            assert float(figures[key]) > 0, key
    # Live widgets were really shown while streaming (by a pooled widget: none opens per cell).
    for key in ROWS[3:5]:
        assert int(re.search(r"(\d+) live view shown", details[key]).group(1)) == 1, details[key]
    assert f"answers checked: {QUICK_ANSWERS}," in done.stdout
    assert str(SCRIPT.parents[1] / "heroku_magic") in done.stdout  # the kernel ran this checkout
    assert re.search(r"^machine: .+ cores .*Python \d", done.stdout, re.MULTILINE)
    assert re.search(r"^total time \d+\.\d s$", done.stdout, re.MULTILINE)
    if drawing:
        assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_table_counts_targets_and_shows_missing_figures(tmp_path: Path) -> None:
    report = report_module()
    rows = [
        report.Row(int(target), measure, value, 1.0)
        for (target, measure), value in zip(ROWS, [0.5, 0.9, None, 2.0, 3.0] + [0.1] * 7, strict=True)
    ]
    rows[9] = report.Row(7, ROWS[9][1], 12, 12, op="==", digits=0, detail="8-config 12, 64-config 12")
    parsed, final = parse(report.table(rows))
    check_rows(parsed, final)
    assert final == "targets met: 6 of 8"  # #2 has no figure, #3 misses; the others pass
    assert parsed[2][2:5] == ["n/a", "<= 1", "n/a"]
    assert parsed[9][2:] == ["12", "== 12", "pass", "8-config 12, 64-config 12"]
    if importlib.util.find_spec("matplotlib") is not None:
        report.chart(rows, tmp_path / "chart.png", "test")
        assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"


def test_chart_without_matplotlib_is_a_clear_error(tmp_path: Path) -> None:
    # A stub that fails to import, first on the path: the check runs before anything is measured.
    (tmp_path / "matplotlib.py").write_text("raise ImportError('no matplotlib here')\n")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--chart", str(tmp_path / "x.png")],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--chart needs matplotlib" in done.stderr
    assert not (tmp_path / "x.png").exists()
