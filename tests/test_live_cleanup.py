"""Live views are freed once the static output takes over: widgets, threads and streams are counted."""

from __future__ import annotations

import gc
import threading

from IPython.core.interactiveshell import InteractiveShell
from ipywidgets.widgets.widget import _instances
from polling import wait_until
from test_magics import Run

from heroku_magic.simulator import Simulator
from heroku_magic.widgets.live import ChatView

EMPTY_OUTPUT = {"text/plain": ""}


def live_view_ids(run: Run) -> list[str]:
    """The widget-view model ids the cell displayed, in order."""
    return [
        o.data["application/vnd.jupyter.widget-view+json"]["model_id"]
        for o in run.outputs
        if "application/vnd.jupyter.widget-view+json" in o.data
    ]


def emptied(run: Run) -> bool:
    """Whether the cell's last output is the empty one its live view was replaced by (an update shows as another output)."""
    return bool(run.outputs) and run.outputs[-1].data == EMPTY_OUTPUT


def chat_views() -> int:
    """How many ChatView objects exist, after a garbage collection."""
    gc.collect()
    return sum(isinstance(o, ChatView) for o in gc.get_objects())


def test_cells_reuse_one_pooled_widget_and_unloading_frees_it(
    shell: InteractiveShell, simulator: Simulator
) -> None:
    from heroku_magic.widgets.display import shared_layout
    from heroku_magic.widgets.live import POOL

    shell.run_line_magic("config", "HerokuMagics.widgets = True")
    shared_layout()  # every view's one Layout, opened once for the kernel's lifetime
    widgets, threads, views = set(_instances), threading.active_count(), chat_views()
    shown = []
    for number in range(5):
        run = Run(shell, f"%%heroku_chat --thinking\nanswer number {number}")
        assert run.error is None
        (view,) = live_view_ids(run)
        shown.append(view)
        # In the saved notebook the live view's output names no model: a reopened notebook shows
        # no "model not found" in its place.
        assert emptied(run)
        assert "<details><summary>Thought for" in run.html  # the static output took its place
    # One widget served every cell (no widget opened or closed per cell); it waits in the pool.
    assert len(set(shown)) == 1 and set(_instances) - widgets == set(shown)
    assert len(POOL) == 1
    assert threading.active_count() == threads
    shell.run_line_magic("unload_ext", "heroku_magic")
    assert set(_instances) == widgets and len(POOL) == 0
    # Closed is not enough: nothing may still hold the views (anywidget once did, for good).
    assert chat_views() == views


def test_failed_and_interrupted_responses_give_their_widget_back(
    shell: InteractiveShell, simulator: Simulator
) -> None:
    from heroku_magic.widgets.display import shared_layout
    from heroku_magic.widgets.live import POOL

    shell.run_line_magic("config", "HerokuMagics.widgets = True")
    shared_layout()
    widgets, threads = set(_instances), threading.active_count()
    simulator.inject("server_error", status=500)
    failed = Run(shell, "%%heroku_chat --retries 0\nhi")
    assert failed.error is not None and emptied(failed)
    simulator.inject("disconnect", after_chunks=5)
    cut = Run(shell, "%%heroku_chat --retries 0\nwords:50")
    assert cut.error is not None and emptied(cut)
    assert "the answer above is partial" in cut.html  # the partial answer stays on screen
    assert live_view_ids(failed)[0] == live_view_ids(cut)[0]  # the failed cell's widget, reused
    assert set(_instances) - widgets == {live_view_ids(cut)[0]} and len(POOL) == 1
    assert threading.active_count() == threads
    assert wait_until(lambda: not simulator.active_streams)


def test_many_turns_and_a_reset_hold_one_widget(shell: InteractiveShell, simulator: Simulator) -> None:
    from heroku_magic.widgets.display import shared_layout

    shell.run_line_magic("config", "HerokuMagics.widgets = True")
    shared_layout()
    widgets = len(_instances)
    for number in range(20):
        assert Run(shell, f"%%heroku_chat\nturn {number}").error is None
    assert len(_instances) == widgets + 1
    assert Run(shell, "%heroku_reset").error is None
    assert len(_instances) == widgets + 1
