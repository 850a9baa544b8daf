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

EMPTY_VIEW_ID = ""


def live_view_ids(run: Run) -> list[str]:
    """The widget-view model ids the cell displayed, in order (an update shows as another output)."""
    return [
        o.data["application/vnd.jupyter.widget-view+json"]["model_id"]
        for o in run.outputs
        if "application/vnd.jupyter.widget-view+json" in o.data
    ]


def chat_views() -> int:
    """How many ChatView objects exist, after a garbage collection."""
    gc.collect()
    return sum(isinstance(o, ChatView) for o in gc.get_objects())


def test_each_response_frees_its_widgets(shell: InteractiveShell, simulator: Simulator) -> None:
    shell.run_line_magic("config", "HerokuMagics.widgets = True")
    assert Run(shell, "%%heroku_chat --thinking\nwarm up").error is None
    widgets, threads, views = len(_instances), threading.active_count(), chat_views()
    for number in range(5):
        run = Run(shell, f"%%heroku_chat --thinking\nanswer number {number}")
        assert run.error is None
        shown, removed = live_view_ids(run)
        assert shown != EMPTY_VIEW_ID and shown not in _instances  # displayed, then closed
        # In the saved notebook the live view's output names no model: JupyterLab hides it instead
        # of showing "model not found" when the notebook is reopened.
        assert removed == EMPTY_VIEW_ID
        assert "<details><summary>Thought for" in run.html  # the static output took its place
    assert len(_instances) == widgets
    assert threading.active_count() == threads
    # Closed is not enough: nothing may still hold the views (anywidget once did, for good).
    assert chat_views() == views


def test_failed_and_interrupted_responses_free_their_widgets_too(
    shell: InteractiveShell, simulator: Simulator
) -> None:
    shell.run_line_magic("config", "HerokuMagics.widgets = True")
    widgets, threads = len(_instances), threading.active_count()
    simulator.inject("server_error", status=500)
    failed = Run(shell, "%%heroku_chat --retries 0\nhi")
    assert failed.error is not None and live_view_ids(failed)[-1] == EMPTY_VIEW_ID
    simulator.inject("disconnect", after_chunks=5)
    cut = Run(shell, "%%heroku_chat --retries 0\nwords:50")
    assert cut.error is not None and live_view_ids(cut)[-1] == EMPTY_VIEW_ID
    assert "the answer above is partial" in cut.html  # the partial answer stays on screen
    assert len(_instances) == widgets
    assert threading.active_count() == threads
    assert wait_until(lambda: not simulator.active_streams)


def test_reset_after_many_turns_leaves_no_widgets(shell: InteractiveShell, simulator: Simulator) -> None:
    shell.run_line_magic("config", "HerokuMagics.widgets = True")
    widgets = len(_instances)
    for number in range(20):
        assert Run(shell, f"%%heroku_chat\nturn {number}").error is None
    assert len(_instances) == widgets
    assert Run(shell, "%heroku_reset").error is None
    assert len(_instances) == widgets
