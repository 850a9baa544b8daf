"""The benchmark's output: one row per figure, the table of every target, a chart, the machine.

A `Row` is one figure of one target with its limit; a target with several rows (one per answer
shape, or time and memory) is met when every one of its rows passes. `table` prints them in
columns separated by at least two spaces (``tests/test_benchmark.py`` parses it), `chart` draws the
figure/target ratios with matplotlib, and `machine` describes where the figures were taken.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

TARGETS = 8
HEADER = ("#", "measure", "figure", "target", "result", "detail")


@dataclass
class Row:
    """One figure against its target: ``value op limit`` passes (``value`` None: not measured)."""

    target: int
    measure: str
    value: float | None
    limit: float
    op: str = "<="  # or "=="
    digits: int = 2
    detail: str = ""

    @property
    def passed(self) -> bool | None:
        """Whether the figure meets its target; None when there is no figure."""
        if self.value is None:
            return None
        if self.op == "==":
            return round(self.value, self.digits) == round(self.limit, self.digits)
        return self.value <= self.limit

    @property
    def figure(self) -> str:
        """The figure as printed ("n/a" when missing)."""
        return "n/a" if self.value is None else f"{self.value:.{self.digits}f}"

    @property
    def goal(self) -> str:
        """The target as printed, e.g. ``<= 1.05``."""
        return f"{self.op} {self.limit:g}"

    @property
    def result(self) -> str:
        """pass, miss or n/a."""
        return {True: "pass", False: "miss", None: "n/a"}[self.passed]

    @property
    def ratio(self) -> float | None:
        """The figure over its target (what the chart draws)."""
        if self.value is None:
            return None
        return self.value / self.limit if self.limit else float(self.value == self.limit)


def met(rows: list[Row]) -> int:
    """How many targets are met: all their rows pass."""
    return sum(
        all(row.passed for row in rows if row.target == target)
        for target in sorted({row.target for row in rows})
    )


def table(rows: list[Row]) -> str:
    """Every row in aligned columns, then how many targets are met."""
    cells = [HEADER] + [
        (str(row.target), row.measure, row.figure, row.goal, row.result, row.detail) for row in rows
    ]
    widths = [max(len(cell[column]) for cell in cells) for column in range(len(HEADER) - 1)]
    lines = []
    for cell in cells:
        parts = [
            text.rjust(width) if column == 2 else text.ljust(width)
            for column, (text, width) in enumerate(zip(cell, widths, strict=False))
        ]
        lines.append(("  ".join(parts) + "  " + cell[-1]).rstrip())
    lines.append(f"targets met: {met(rows)} of {TARGETS}")
    return "\n".join(lines)


def check_chart() -> str | None:
    """Why ``--chart`` cannot work here (matplotlib missing), or None."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return "--chart needs matplotlib, which is not installed: pip install matplotlib"
    return None


def chart(rows: list[Row], path: Path, title: str) -> None:
    """A PNG bar chart of each figure over its target (log scale), a line at 1: below it passes."""
    # The object API on its own Agg canvas: no pyplot, no global backend (the suite imports this).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = [f"#{row.target} {row.measure}" for row in rows]
    # Log scale from 1/20 of the target: far below it is simply good, and such a figure (zero or
    # negative too) gets a stub of a bar; a missing one gets none. The note gives the real figure.
    floor = 0.05
    shown = [None if row.ratio is None else max(row.ratio, floor * 1.5) for row in rows]
    colours = {True: "tab:green", False: "tab:red", None: "lightgrey"}
    figure = Figure(figsize=(10, 0.45 * len(rows) + 1.6))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(len(rows)))[::-1]
    axes.barh(positions, [width or 0.0 for width in shown], color=[colours[row.passed] for row in rows])
    axes.set_xscale("log")
    axes.set_xlim(floor, max([1.0, *(width for width in shown if width)]) * 6)
    axes.axvline(1.0, color="black", linewidth=1)
    for position, row, width in zip(positions, rows, shown, strict=True):
        axes.text(width or floor, position, f" {row.figure} ({row.goal})", va="center", fontsize=8)
    axes.set_yticks(positions)
    axes.set_yticklabels(labels, fontsize=8)
    axes.set_xlabel("figure / target (at or below 1 meets it; #7: 64-config grid / 8-config grid)")
    axes.set_title(f"{title}: {met(rows)} of {TARGETS} targets met", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or what platform knows)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                name, _, value = line.partition(":")
                if name.strip() in ("model name", "Hardware", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine() -> str:
    """CPU model, cores, Python and OS, on one line."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{cpu_model()}, {cores} cores (of {os.cpu_count()}), Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.platform()}"
    )
