"""scripts/benchmark.py --quick runs end to end (simulator, real kernel, live widgets) and prints its figures."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")
pytestmark = pytest.mark.timeout(300)

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "benchmark.py"
SHAPES = ("markdown", "paragraph")
ROWS = (
    "answer chunks",
    "answer bytes",
    "baseline: raw openai SDK loop (s)",
    "%%heroku_chat with widgets (s)",
    "kernel cost ratio (chat / baseline)",
    "baseline kernel CPU (s)",
    "%%heroku_chat kernel CPU (s)",
    "kernel CPU ratio (chat / baseline)",
    "frontend messages",
    "comm_open (widgets created)",
    "frontend messages per second",
    "frontend bytes",
    "frontend bytes / answer bytes",
)


def table(output: str) -> dict[str, dict[str, float]]:
    """The printed table as {row: {shape: value}}; every cell must be a number."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == ["figure"])
    assert re.split(r"\s{2,}", lines[start].strip())[1:] == list(SHAPES)
    figures = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        label, *values = re.split(r"\s{2,}", line.strip())
        assert len(values) == len(SHAPES), line
        figures[label] = dict(zip(SHAPES, map(float, values), strict=True))
    return figures


def test_quick_benchmark_prints_every_figure() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=280
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = table(done.stdout)
    assert list(figures) == list(ROWS)
    for shape in SHAPES:
        column = {row: values[shape] for row, values in figures.items()}
        assert column["answer chunks"] == 2000 and column["answer bytes"] > 10_000
        assert (
            column["baseline: raw openai SDK loop (s)"] > 0 and column["%%heroku_chat with widgets (s)"] > 0
        )
        assert column["kernel cost ratio (chat / baseline)"] > 0
        assert column["%%heroku_chat kernel CPU (s)"] > 0
        # Live widgets were really shown: widgets created, updates sent, bytes over the wire.
        assert column["comm_open (widgets created)"] >= 1
        assert column["frontend messages"] > column["comm_open (widgets created)"]
        assert column["frontend messages per second"] > 0
        assert column["frontend bytes / answer bytes"] >= 1
    assert str(SCRIPT.parents[1] / "heroku_magic") in done.stdout  # the kernel ran this checkout
