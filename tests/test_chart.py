"""The explore comparison chart: bars that match the rows, a valid PNG, and None without matplotlib.

The oracles are independent of the drawing code: the PNG is decoded by matplotlib's own image reader,
bar heights are read back from the figure's patches (each tagged with its configuration's index) and
compared with ``Outcome.row()``, and the import checks read ``sys.modules`` in a fresh interpreter.
"""

from __future__ import annotations

import importlib.util
import io
import json
import math
import subprocess
import sys
import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heroku_magic.events import ChatResult, Usage
from heroku_magic.explore import Configuration, ExploreResults, Outcome
from heroku_magic.render.chart import (
    FIGSIZE,
    MAX_TICK_LABELS,
    PANELS,
    _plain_context,
    comparison_figure,
    comparison_png,
    comparison_sketch,
    drawn,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEYS = [key for key, _ in PANELS]
needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None, reason="matplotlib is optional (the explore chart)"
)


def result(total: float, ttft: float | None = 0.25, completion: int | None = 120) -> ChatResult:
    """A finished response with the given timings and completion tokens."""
    usage = None if completion is None else Usage(10, completion, 10 + completion)
    return ChatResult(text="ok", usage=usage, time_to_first_token=ttft, total_time=total)


def outcome(settings: dict[str, Any], *args: Any, error: str | None = None) -> Outcome:
    """An outcome for ``settings``: a result from ``args``, or only an error."""
    return Outcome(Configuration(settings, None), result(*args) if args else None, error)


def model_by_temperature() -> ExploreResults:
    """A 2 x 4 grid (model x temperature) with one failed configuration."""
    outcomes = []
    for m, model in enumerate(["claude-4-sonnet", "claude-3-7-sonnet"]):
        for t, temperature in enumerate([0.0, 0.5, 1.0, 1.5]):
            settings = {"model": model, "temperature": temperature}
            if (m, t) == (1, 3):
                outcomes.append(outcome(settings, error="429 Too Many Requests"))
            else:
                outcomes.append(outcome(settings, 1.0 + m + t / 4, 0.1 * (t + 1), 50 * (t + 1)))
    return ExploreResults(outcomes)


def decoded(png: bytes) -> Any:
    """The PNG decoded by matplotlib's image reader: an array of height x width x channels."""
    import matplotlib.image

    return matplotlib.image.imread(io.BytesIO(png), format="png")


def drawn_whole(figure: Any) -> Any:
    """The figure as matplotlib draws it whole, RGBA bytes (the oracle for the chart's partial drawing)."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    with _plain_context():  # the rc settings the chart draws under
        canvas.draw()
    return np.asarray(canvas.buffer_rgba())


def assert_drawn_whole(png: bytes, figure: Any) -> None:
    """The PNG shows what a full redraw of ``figure`` shows: no pixel off by more than anti-aliasing."""
    import numpy as np

    shown = np.rint(decoded(png) * 255).astype(int)
    whole = drawn_whole(figure).astype(int)
    assert shown.shape == whole.shape
    off = np.abs(shown - whole).max(axis=2) > 64  # a missing label or bar is off by ~255
    assert not off.any(), (
        f"{off.sum()} pixels differ from a full redraw, around {np.argwhere(off)[:5].tolist()}"
    )


def bars(figure: Any) -> list[dict[int, Any]]:
    """Per panel: configuration index -> its bar (the patches the chart tagged)."""
    return [
        {int(patch.get_gid().removeprefix("configuration-")): patch for patch in ax.patches}
        for ax in figure.axes
    ]


def marks(figure: Any) -> list[dict[int, str]]:
    """Per panel: configuration index -> the marker text drawn in place of a bar."""
    return [
        {int(text.get_gid().removeprefix("configuration-")): text.get_text() for text in ax.texts}
        for ax in figure.axes
    ]


def ticks(figure: Any) -> list[list[str]]:
    """Per panel: the x tick label texts."""
    return [[label.get_text() for label in ax.get_xticklabels()] for ax in figure.axes]


def legend(figure: Any) -> list[str]:
    """The figure legend's entries (none when there is no legend)."""
    return [text.get_text() for one in figure.legends for text in one.get_texts()]


@needs_matplotlib
def test_the_png_is_a_valid_image_of_the_figure_size() -> None:
    png = comparison_png(model_by_temperature())
    assert png is not None and png.startswith(PNG_SIGNATURE)
    image = decoded(png)
    assert image.shape[:2] == (round(FIGSIZE[1] * 100), round(FIGSIZE[0] * 100))
    assert image.shape[2] in (3, 4)
    assert image[..., :3].min() < 0.5  # something is drawn on the white background
    assert len(png) < 60_000  # small enough to keep in a notebook


@needs_matplotlib
def test_bar_heights_are_the_rows_values_and_failures_are_marked() -> None:
    results = model_by_temperature()
    rows = results.rows()
    figure = comparison_figure(results)
    assert [ax.get_title() for ax in figure.axes] == [title for _, title in PANELS]
    for key, shown, marked in zip(KEYS, bars(figure), marks(figure), strict=True):
        assert sorted(shown) == [i for i in range(8) if i != 7]
        for index, patch in shown.items():
            assert patch.get_height() == pytest.approx(rows[index][key])
        assert marked == {7: "error"}


@needs_matplotlib
def test_the_last_axis_is_the_colour_and_the_others_are_the_ticks() -> None:
    results = model_by_temperature()
    figure = comparison_figure(results)
    assert ticks(figure) == [["claude-4-sonnet", "claude-3-7-sonnet"]] * 3
    assert legend(figure) == ["temperature=0", "temperature=0.5", "temperature=1", "temperature=1.5"]
    assert figure.get_supxlabel() == "model"
    panel_bars = bars(figure)[0]
    # Each model's bars cluster around its tick, in temperature order, one colour per temperature.
    for index, patch in panel_bars.items():
        model, temperature = divmod(index, 4)
        centre = patch.get_x() + patch.get_width() / 2
        assert abs(centre - model) < 0.5
        assert patch.get_facecolor() == panel_bars[temperature].get_facecolor()
    centres = [panel_bars[i].get_x() for i in range(4)]
    assert centres == sorted(centres)
    assert len({panel_bars[i].get_facecolor() for i in range(4)}) == 4


@needs_matplotlib
def test_a_one_axis_grid_is_one_bar_per_value_without_a_legend() -> None:
    results = ExploreResults(outcome({"temperature": t}, 1.0 + t, None, 80) for t in [0.0, 0.5, 1.0])
    figure = comparison_figure(results)
    assert ticks(figure) == [["0", "0.5", "1"]] * 3
    assert legend(figure) == [] and figure.get_supxlabel() == "temperature"
    latency, ttft, speed = bars(figure)
    assert {i: p.get_height() for i, p in latency.items()} == {0: 1.0, 1: 1.5, 2: 2.0}
    assert ttft == {} and marks(figure)[1] == {0: "n/a", 1: "n/a", 2: "n/a"}  # no first-token time
    assert [p.get_x() + p.get_width() / 2 for p in speed.values()] == pytest.approx([0, 1, 2])


@needs_matplotlib
def test_labels_are_plain_text_not_mathtext() -> None:
    hostile = "$\\frac{a}{b}$_x^2"
    results = ExploreResults(
        outcome({"model": hostile, "system": s}, 1.0) for s in ["cost is $5 or $6", "be\nterse"]
    )
    figure = comparison_figure(results)
    assert ticks(figure)[0] == ["$\\frac{a}{b}$_x^2"]
    assert legend(figure) == ["system=cost is $5 or $6", "system=be terse"]
    texts = [t for ax in figure.axes for t in ax.get_xticklabels()] + list(figure.legends[0].get_texts())
    assert all(not t.get_parse_math() and not t.get_usetex() for t in texts)
    png = comparison_png(results)
    assert png is not None and decoded(png).shape[:2] == (300, 900)


@needs_matplotlib
def test_no_grid_and_irregular_settings_still_draw() -> None:
    base = comparison_figure(ExploreResults([outcome({}, 2.0)]))
    assert ticks(base) == [["base options"]] * 3
    # The same (model, temperature) twice cannot be clustered: one bar per configuration instead.
    twice = ExploreResults([outcome({"model": "a", "temperature": 0.0}, 1.0)] * 2)
    assert ticks(comparison_figure(twice))[0] == ["a, 0"] * 2
    ragged = ExploreResults([outcome({"model": "a"}, 1.0), outcome({"temperature": 0.5}, 2.0)])
    assert legend(comparison_figure(ragged)) == ["temperature=–", "temperature=0.5"]
    assert comparison_png(ExploreResults()) is None  # nothing to draw


@needs_matplotlib
def test_too_many_values_on_the_last_axis_give_one_bar_per_configuration() -> None:
    temperatures = [n / 20 for n in range(12)]  # more than the ten colours
    results = ExploreResults(
        outcome({"model": model, "temperature": t}, 1.0 + t) for model in "ab" for t in temperatures
    )
    figure = comparison_figure(results)
    assert legend(figure) == [] and figure.get_supxlabel() == "model, temperature"
    labels = ticks(figure)[0]
    # Every bar has its tick; every step-th tick its label, so that the labels do not overlap.
    step = math.ceil(24 / MAX_TICK_LABELS)
    assert len(labels) == 24 and step > 1
    assert [label for n, label in enumerate(labels) if n % step] == [""] * (24 - len(labels[::step]))
    assert labels[::step] == [f"{model}, {t:g}" for model in "ab" for t in temperatures][::step]
    panel_bars = bars(figure)[0]
    assert [panel_bars[i].get_height() for i in range(24)] == pytest.approx(
        [r["latency_s"] for r in results.rows()]
    )
    assert len({patch.get_facecolor() for patch in panel_bars.values()}) == 1


@needs_matplotlib
def test_the_users_matplotlib_state_is_left_alone() -> None:
    import matplotlib
    from cycler import cycler

    with matplotlib.rc_context({"text.usetex": True, "axes.prop_cycle": cycler(color=["k"])}):
        before = matplotlib.rcParams.copy()  # copy() reads the backend without resolving it
        png = comparison_png(model_by_temperature())  # no TeX run: usetex is off for the chart
        figure = comparison_figure(model_by_temperature())
        assert matplotlib.rcParams.copy() == before
    assert png is not None and decoded(png).shape[:2] == (300, 900)
    # The user's one-colour cycle does not merge the temperatures.
    assert len({bars(figure)[0][i].get_facecolor() for i in range(4)}) == 4
    assert "matplotlib.pyplot" not in sys.modules


def test_without_matplotlib_there_is_no_png(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [
        "matplotlib",
        "matplotlib.backends",
        "matplotlib.backends.backend_agg",
        "matplotlib.figure",
        "matplotlib.patches",
    ]:
        monkeypatch.setitem(sys.modules, name, None)
    assert comparison_png(model_by_temperature()) is None
    with pytest.raises(ImportError):
        comparison_figure(model_by_temperature())


def test_importing_the_package_and_the_chart_module_does_not_import_matplotlib() -> None:
    probe = (
        "import heroku_magic, heroku_magic.render.chart, json, sys; print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    modules = json.loads(out.stdout)
    assert "heroku_magic.render.chart" in modules
    assert not [name for name in modules if name.split(".")[0] == "matplotlib"]


hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="$\\_^{}%#&~ \n\t", max_size=20),
    st.sampled_from(
        ["$x$", "$\\alpha$", "a_b^c", "\\", "$", "猫🐈", "\u202eevil", "\x00\x1b[31m", "x" * 500]
    ),
)
setting_value = st.one_of(
    hostile_text, st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10**6)
)
maybe_seconds = st.one_of(st.none(), st.floats(min_value=0, max_value=1e4, allow_nan=False))


@st.composite
def explore_results(draw: st.DrawFn) -> ExploreResults:
    """A grid of up to 3 hostile axis names, hostile values, and random missing figures and errors."""
    names = draw(st.lists(hostile_text, max_size=3, unique=True))
    outcomes = []
    for _ in range(draw(st.integers(1, 12))):
        settings = {name: draw(setting_value) for name in names}
        config = Configuration(settings, None)
        if draw(st.booleans()):
            total = draw(st.floats(min_value=0, max_value=1e4, allow_nan=False))
            completion = draw(st.one_of(st.none(), st.integers(0, 10**6)))
            chat = result(total, draw(maybe_seconds), completion)
        else:
            chat = None
        error = draw(st.one_of(st.none(), hostile_text))
        outcomes.append(Outcome(config, chat, error))
    return ExploreResults(outcomes)


@needs_matplotlib
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(explore_results())
def test_any_results_give_a_valid_png_and_bars_that_match_the_rows(results: ExploreResults) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing leaks into the notebook either
        sketch = drawn(comparison_sketch([outcome.configuration for outcome in results]))
        png = comparison_png(results, sketch)  # as a grid draws it: over the frame drawn meanwhile
        figure = sketch.figure
    assert png is not None and png.startswith(PNG_SIGNATURE)
    assert decoded(png).shape[:2] == (300, 900)
    assert_drawn_whole(png, figure)
    rows = results.rows()
    for key, shown, marked in zip(KEYS, bars(figure), marks(figure), strict=True):
        assert set(shown) | set(marked) == set(range(len(results))) and not set(shown) & set(marked)
        for index, patch in shown.items():
            assert results[index].error is None
            assert patch.get_height() == pytest.approx(rows[index][key])
        for index, mark in marked.items():
            value = rows[index][key]
            missing = value is None or not math.isfinite(value)
            assert mark == ("error" if results[index].error is not None else "n/a")
            assert results[index].error is not None or missing
