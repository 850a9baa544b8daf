"""The explore comparison chart: latency, time to first token and tokens/s per configuration, as a PNG.

Plain Python over :class:`~heroku_magic.explore.ExploreResults`. matplotlib is optional: it is
imported only when a chart is drawn (so loading the extension stays fast), and without it
:func:`comparison_png` returns None and the caller keeps the text chart. The figure is built with
matplotlib's object API and rendered on its own Agg canvas: pyplot, the user's current figure and the
global backend are never touched. Bars are grouped by the grid's axes: the last axis is the colour
(named in the legend), the others label the x ticks. Labels come from settings and may hold anything
a user typed, so they are shown as plain text (mathtext and TeX off), on one line, shortened.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import math
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..explore import Configuration, ExploreResults

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.text import Text

log = logging.getLogger(__name__)

# (row key, panel title): the values drawn are exactly those of Outcome.row().
PANELS = (("latency_s", "latency (s)"), ("ttft_s", "time to first token (s)"), ("tokens_per_s", "tokens/s"))
FIGSIZE = (9.0, 3.0)
DPI = 100
# matplotlib's tab10, fixed so that a style the user set elsewhere cannot merge two legend entries.
COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
MAX_COLOURS = len(COLOURS)  # more values on the last axis: one bar per configuration, no legend
ERROR_COLOUR = "#b22222"
MISSING_COLOUR = "#777777"
TICK_CHARS = 24
MAX_TICK_LABELS = 8
LEGEND_CHARS = 32
XLABEL_CHARS = 80
# Expected with arbitrary labels: a glyph the font lacks is drawn as a box, a crowded layout as is.
_QUIET = (
    r"Glyph .* missing from",
    r"Matplotlib currently does not support .* natively",
)


@dataclass(frozen=True)
class _Layout:
    """Where each configuration's bar goes, in which colour, and how the axes are labelled."""

    positions: list[float]
    colours: list[int]
    width: float
    tick_labels: list[str]
    xlabel: str
    legend: list[str]


@dataclass(frozen=True)
class Sketch:
    """The chart before its bars: figure, panels, titles, ticks and legend for a grid's configurations.

    Once drawn (:func:`drawn`), ``canvas`` holds its pixels and ``frame`` a copy of them: everything
    but the bars, the failure marks and the y axes, which the results decide.
    """

    figure: Figure
    panels: list[Axes]
    layout: _Layout
    canvas: FigureCanvasAgg | None = None
    frame: Any = None  # matplotlib's BufferRegion of the canvas


def comparison_png(results: ExploreResults, sketch: Sketch | None = None) -> bytes | None:
    """The comparison chart as PNG bytes (on ``sketch`` if given); None without matplotlib or configurations.

    Only what the results decide is drawn here, over the sketch's frame (drawn while the grid
    waited): about half the drawing, after the grid. The pixels are those of a full redraw of the
    figure but for anti-aliasing where bars meet the axes (a test compares them).
    """
    if not results:
        return None
    try:
        if sketch is None or sketch.frame is None:
            sketch = drawn(sketch or comparison_sketch([outcome.configuration for outcome in results]))
        comparison_figure(results, sketch)
        from PIL import Image  # a dependency of matplotlib's
    except ImportError:  # matplotlib is optional: the caller keeps the text chart
        return None
    canvas = sketch.canvas
    assert canvas is not None  # drawn() sets it
    with _plain_context():
        canvas.restore_region(sketch.frame)  # type: ignore[no-untyped-call]  # (unannotated upstream)
        for ax in sketch.panels:
            ax.get_ylim()  # the y limits, autoscaled to the bars (a full draw does it itself)
            # In the order a full draw takes (by z-order): the bars, the spines they may cover, the
            # y axis, the failure marks.
            results_artists = [*ax.patches, ax.spines["bottom"], ax.spines["left"], ax.yaxis, *ax.texts]
            for artist in sorted(results_artists, key=lambda artist: artist.get_zorder()):
                ax.draw_artist(artist)
    width, height = canvas.get_width_height()
    pixels = canvas.buffer_rgba()  # type: ignore[no-untyped-call]
    image = Image.frombuffer("RGBA", (width, height), pixels, "raw", "RGBA", 0, 1)
    buffer = io.BytesIO()
    image.save(buffer, format="png", dpi=(DPI, DPI))
    return buffer.getvalue()


def comparison_figure(results: ExploreResults, sketch: Sketch | None = None) -> Figure:
    """The comparison chart as a matplotlib Figure (raises ImportError without matplotlib)."""
    sketch = sketch or comparison_sketch([outcome.configuration for outcome in results])
    rows = results.rows()
    with _plain_context():
        for ax, (key, _) in zip(sketch.panels, PANELS, strict=True):
            _bars(ax, key, results, rows, sketch.layout)
    return sketch.figure


def comparison_sketch(configs: Sequence[Configuration]) -> Sketch:
    """Everything of the chart that the configurations alone decide (raises ImportError without matplotlib).

    A grid builds it while its requests wait for their first token, so that only the bars and the
    drawing are left for after the grid.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    layout = _layout(configs)
    with _plain_context():
        # Fixed margins, not layout="constrained": it measured every label of every panel and took
        # two thirds of the drawing time (0.27 of 0.4 s), added to the end of every grid.
        figure = Figure(figsize=FIGSIZE, dpi=DPI)
        figure.subplots_adjust(
            left=0.05,
            right=0.99,
            top=0.8 if layout.legend else 0.88,
            bottom=0.34 if _crowded(_tick_labels(layout)) else 0.2,  # room for slanted labels
            wspace=0.22,
        )
        panels = [figure.add_subplot(1, len(PANELS), number) for number in range(1, len(PANELS) + 1)]
        for ax, (_, title) in zip(panels, PANELS, strict=True):
            _frame(ax, title, layout)
        if layout.legend:
            handles = [Patch(facecolor=_colour(index)) for index in range(len(layout.legend))]
            legend = figure.legend(
                handles,
                [_plain(label, LEGEND_CHARS) for label in layout.legend],
                loc="upper center",
                bbox_to_anchor=(0.5, 1.0),
                ncols=min(len(layout.legend), 5),
                fontsize=7,
                frameon=False,
                handlelength=1.0,
                columnspacing=1.2,
            )
            for text in legend.get_texts():
                _plain_text(text)
        if layout.xlabel:
            _plain_text(figure.supxlabel(_plain(layout.xlabel, XLABEL_CHARS), fontsize=8))
    return Sketch(figure, panels, layout)


def drawn(sketch: Sketch) -> Sketch:
    """``sketch`` drawn on its own Agg canvas, without its y axes (they follow the bars), and its pixels kept."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(sketch.figure)
    with _plain_context():
        for ax in sketch.panels:
            ax.yaxis.set_visible(False)
        canvas.draw()  # type: ignore[no-untyped-call]  # also warms the text caches that drawing the bars and y axes reuses
        frame = canvas.copy_from_bbox(sketch.figure.bbox)  # type: ignore[no-untyped-call]
        for ax in sketch.panels:
            ax.yaxis.set_visible(True)
    return replace(sketch, canvas=canvas, frame=frame)


def sketch_meanwhile(configs: Sequence[Configuration]) -> Callable[[], Sketch | None]:
    """Start sketching the chart on a thread (importing matplotlib too); call the result for the sketch.

    The grid's requests spend most of their time waiting for a first token: the import and the
    sketch happen then, not after the grid. Without matplotlib (or if sketching fails) no thread
    is started, or the call gives None, and the chart is drawn from scratch or as text.
    """
    if not configs or importlib.util.find_spec("matplotlib") is None:
        return lambda: None
    sketches: list[Sketch] = []

    def sketch() -> None:
        try:
            sketches.append(drawn(comparison_sketch(configs)))
        except Exception:  # the chart is a nicety: the comparison must not fail for it
            log.exception("could not sketch the comparison chart")

    thread = threading.Thread(target=sketch, name="heroku-magic-chart-sketch", daemon=True)
    thread.start()

    def result() -> Sketch | None:
        thread.join()
        return sketches[0] if sketches else None

    return result


def _frame(ax: Axes, title: str, layout: _Layout) -> None:
    """A panel's title, x ticks and spines."""
    # A fixed title position: matplotlib otherwise measures every tick label to place it (a third of
    # the drawing time, which comes after the grid has finished).
    _plain_text(ax.set_title(title, fontsize=9, y=1.02))
    labels = _tick_labels(layout)
    crowded = _crowded(labels)
    ax.set_xticks(
        list(range(len(labels))),
        labels,
        fontsize=7,
        rotation=30 if crowded else 0,
        ha="right" if crowded else "center",
        rotation_mode="anchor",
    )
    for text in ax.get_xticklabels():
        _plain_text(text)
    ax.set_xlim(-0.5, max(len(labels), 1) - 0.5)
    ax.tick_params(axis="y", labelsize=7)
    ax.spines[["top", "right"]].set_visible(False)


def _bars(ax: Axes, key: str, results: ExploreResults, rows: list[dict[str, Any]], layout: _Layout) -> None:
    """A bar per configuration with a value, a marker where there is none."""
    from matplotlib.ticker import MaxNLocator

    drawn: list[tuple[int, float]] = []
    for index, (outcome, row) in enumerate(zip(results, rows, strict=True)):
        value = _number(row.get(key))
        if outcome.error is None and value is not None:
            drawn.append((index, value))
            continue
        failed = outcome.error is not None
        mark = ax.text(
            layout.positions[index],
            0.02,
            "error" if failed else "n/a",
            transform=ax.get_xaxis_transform(),
            rotation=90,
            ha="center",
            va="bottom",
            fontsize=7,
            color=ERROR_COLOUR if failed else MISSING_COLOUR,
        )
        _plain_text(mark)
        mark.set_gid(f"configuration-{index}")
    if drawn:
        container = ax.bar(
            [layout.positions[index] for index, _ in drawn],
            [value for _, value in drawn],
            width=layout.width,
            color=[_colour(layout.colours[index]) for index, _ in drawn],
        )
        for (index, _), bar in zip(drawn, container.patches, strict=True):
            bar.set_gid(f"configuration-{index}")
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))  # few ticks: each is several artists to draw
    else:
        ax.set_yticks([])  # no values: a bare 0-1 scale would only mislead


def _tick_labels(layout: _Layout) -> list[str]:
    """The x tick labels: beyond MAX_TICK_LABELS ticks only every step-th is labelled (they would overlap)."""
    step = max(1, math.ceil(len(layout.tick_labels) / MAX_TICK_LABELS))
    return [_plain(label, TICK_CHARS) if n % step == 0 else "" for n, label in enumerate(layout.tick_labels)]


def _crowded(labels: list[str]) -> bool:
    """Whether the labels would overlap side by side (then they are slanted)."""
    shown = [label for label in labels if label]
    return len(shown) * max(map(len, shown), default=0) > 36  # about a panel's width at 7 pt


def _layout(configs: Sequence[Configuration]) -> _Layout:
    """Bars grouped by the grid's axes: clusters by the leading axes, colours by the last one.

    A grid of one axis, or one that cannot be clustered (a repeated point, too many values on the
    last axis), gets one bar per configuration, labelled with all its values, in one colour.
    """
    settings = [config.settings for config in configs]
    axes = list(dict.fromkeys(name for one in settings for name in one))
    if len(axes) >= 2:
        *leading, last = axes
        groups: dict[tuple[str, ...], int] = {}
        shades: dict[str, int] = {}
        pairs = []
        for one in settings:
            group = tuple(_value_text(name, one) for name in leading)
            shade = Configuration({last: one[last]}, None).label if last in one else f"{last}=–"
            pairs.append((groups.setdefault(group, len(groups)), shades.setdefault(shade, len(shades))))
        if len(set(pairs)) == len(pairs) and len(shades) <= MAX_COLOURS:
            width = 0.8 / len(shades)
            return _Layout(
                positions=[group + (shade - (len(shades) - 1) / 2) * width for group, shade in pairs],
                colours=[shade for _, shade in pairs],
                width=width * 0.9,
                tick_labels=[", ".join(group) for group in groups],
                xlabel=", ".join(leading),
                legend=list(shades),
            )
    return _Layout(
        positions=[float(index) for index in range(len(configs))],
        colours=[0] * len(configs),
        width=0.6,
        tick_labels=[
            ", ".join(_value_text(name, one) for name in axes) or "base options" for one in settings
        ],
        xlabel=", ".join(axes),
        legend=[],
    )


def _value_text(name: str, settings: dict[str, Any]) -> str:
    """A setting's value as the comparison table shows it (``0.5``, ``off``, a budget), or a dash."""
    if name not in settings:
        return "–"
    return Configuration({name: settings[name]}, None).label.removeprefix(f"{name}=")


def _number(value: Any) -> float | None:
    """A finite number to draw, or None for a missing one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _colour(index: int) -> str:
    """The colour of the index-th value of the last axis."""
    return COLOURS[index % len(COLOURS)]


def _plain(text: str, limit: int) -> str:
    """One printable line of at most ``limit`` characters."""
    line = " ".join("".join(ch if ch.isprintable() else " " for ch in str(text)).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _plain_text(text: Text) -> None:
    """Show a matplotlib Text literally: no mathtext, no TeX."""
    text.set_parse_math(False)
    text.set_usetex(False)


@contextlib.contextmanager
def _plain_context() -> Iterator[None]:
    """Plain-text rcParams and no warnings about glyphs the font lacks, restored on exit."""
    import matplotlib

    # Plain text everywhere, whatever the user's matplotlibrc says ("$" in a model name is not math).
    plain = matplotlib.rc_context(
        {"text.usetex": False, "text.parse_math": False, "axes.formatter.use_mathtext": False}
    )
    with plain, warnings.catch_warnings():
        for message in _QUIET:
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        yield
