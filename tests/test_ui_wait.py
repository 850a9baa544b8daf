"""wait_for in a real kernel: a click sent while a cell waits reaches its handler; other requests wait their turn."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from heroku_magic.widgets.wait import can_wait, wait_for

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[1]
READ_TIMEOUT = 60  # seconds: only so that a broken kernel fails the test instead of hanging it

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# What a click sends, per widget: an ipywidgets Button's "click" event, and an anywidget's
# model.send() from its JavaScript (the live view's ChatView here), both as a comm_msg.
BUTTON = """
import ipywidgets
from IPython.display import display
from heroku_magic.widgets.wait import can_wait, wait_for
clicks = []
widget = ipywidgets.Button(description="Approve")
widget.on_click(lambda button: clicks.append("approve"))
"""
CHAT_VIEW = """
from IPython.display import display
from heroku_magic.widgets.live import ChatView
from heroku_magic.widgets.wait import can_wait, wait_for
clicks = []
widget = ChatView()
widget.on_msg(lambda view, content, buffers: clicks.append(content["choice"]))
"""
WAIT = """
display(widget)
print("can wait:", can_wait())
print("decided:", wait_for(lambda: bool(clicks), timeout=60), clicks)
"""
CLICKS = {
    "button": (BUTTON, {"method": "custom", "content": {"event": "click"}}),
    "chat_view": (CHAT_VIEW, {"method": "custom", "content": {"choice": "approve"}}),
}


class Frontend:
    """A test's stand-in for JupyterLab: runs cells, sends what a click sends, keeps what comes back."""

    def __init__(self, manager: Any, client: Any) -> None:
        self.manager, self.client = manager, client
        self.iopub: list[dict[str, Any]] = []  # every IOPub message read, in order
        self.replies: dict[str, dict[str, Any]] = {}

    def execute(self, code: str) -> str:
        """Send an execute request; its message id."""
        return str(self.client.execute(code))

    def read_until(self, condition: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The first IOPub message (already read or not) that satisfies ``condition``."""
        for seen in self.iopub:
            if condition(seen):
                return seen
        while True:
            message: dict[str, Any] = self.client.get_iopub_msg(timeout=READ_TIMEOUT)
            self.iopub.append(message)
            if condition(message):
                return message

    def output(self, msg_id: str, msg_type: str, text: str = "") -> dict[str, Any]:
        """The first ``msg_type`` output of request ``msg_id`` (a stream's containing ``text``)."""
        return self.read_until(
            lambda m: (
                m["parent_header"].get("msg_id") == msg_id
                and m["msg_type"] == msg_type
                and text in m["content"].get("text", "")
            )
        )

    def finish(self, msg_id: str) -> dict[str, Any]:
        """Wait until request ``msg_id`` is done (its idle status); its reply's content."""
        self.read_until(
            lambda m: (
                m["parent_header"].get("msg_id") == msg_id
                and m["msg_type"] == "status"
                and m["content"]["execution_state"] == "idle"
            )
        )
        while msg_id not in self.replies:
            reply = self.client.get_shell_msg(timeout=READ_TIMEOUT)
            self.replies[reply["parent_header"]["msg_id"]] = reply
        return dict(self.replies[msg_id]["content"])

    def text(self, msg_id: str) -> str:
        """All that request ``msg_id`` printed."""
        return "".join(
            m["content"]["text"]
            for m in self.iopub
            if m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "stream"
        )

    def widget_shown(self, msg_id: str) -> str:
        """The model id of the widget request ``msg_id`` displays (once it is displayed)."""
        shown = self.read_until(
            lambda m: (
                m["parent_header"].get("msg_id") == msg_id
                and m["msg_type"] == "display_data"
                and WIDGET_VIEW in m["content"]["data"]
            )
        )
        return str(shown["content"]["data"][WIDGET_VIEW]["model_id"])

    def send_to_widget(self, model_id: str, data: dict[str, Any]) -> None:
        """Send what the browser sends to a widget's comm (for a click: a custom message)."""
        message = self.client.session.msg("comm_msg", {"comm_id": model_id, "data": data})
        self.client.shell_channel.send(message)


@pytest.fixture
def frontend() -> Iterator[Frontend]:
    """A fresh kernel of this environment, started like a notebook's, with a client to drive it."""
    pytest.importorskip("ipykernel")
    pytest.importorskip("ipywidgets")
    manager_module = pytest.importorskip("jupyter_client.manager")
    manager, client = manager_module.start_new_kernel(
        kernel_name="python3", cwd=str(ROOT), startup_timeout=READ_TIMEOUT
    )
    try:
        yield Frontend(manager, client)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


@pytest.mark.parametrize("widget", sorted(CLICKS))
def test_a_click_sent_while_the_cell_waits_reaches_its_handler(frontend: Frontend, widget: str) -> None:
    setup, click = CLICKS[widget]
    cell = frontend.execute(setup + WAIT)
    frontend.send_to_widget(frontend.widget_shown(cell), click)
    assert frontend.finish(cell)["status"] == "ok"
    # Printed after the wait, so also: the cell's own output stayed the cell's.
    assert frontend.text(cell) == "can wait: True\ndecided: True ['approve']\n"


def test_a_cell_run_while_another_waits_runs_after_it(frontend: Frontend) -> None:
    first = frontend.execute(BUTTON + 'print("first waits")' + WAIT)
    model_id = frontend.widget_shown(first)
    frontend.output(first, "stream", "first waits")
    second = frontend.execute('print("second ran")')  # queued behind the waiting cell, like Shift+Enter
    frontend.send_to_widget(model_id, CLICKS["button"][1])
    first_reply, second_reply = frontend.finish(first), frontend.finish(second)
    assert first_reply["status"] == second_reply["status"] == "ok"
    assert second_reply["execution_count"] == first_reply["execution_count"] + 1
    decided = frontend.output(first, "stream", "decided: True")
    ran = frontend.output(second, "stream", "second ran")
    assert frontend.iopub.index(decided) < frontend.iopub.index(ran)  # not lost, and in order
    assert "second ran" not in frontend.text(first) and frontend.text(second) == "second ran\n"


def test_interrupting_a_waiting_cell_ends_it_and_the_kernel_still_works(frontend: Frontend) -> None:
    waiting = frontend.execute(
        "from heroku_magic.widgets.wait import wait_for\n"
        "polled = []\n"
        "def never():\n"
        "    if not polled:\n"
        "        polled.append(1)\n"
        '        print("polling", flush=True)\n'
        "    return False\n"
        "wait_for(never)\n"
    )
    frontend.output(waiting, "stream", "polling")  # inside wait_for: decided() was asked once
    frontend.manager.interrupt_kernel()
    reply = frontend.finish(waiting)
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
    assert frontend.output(waiting, "error")["content"]["ename"] == "KeyboardInterrupt"
    # The kernel answers, and a later wait still receives clicks (its message callback was restored).
    later = frontend.execute(BUTTON + WAIT)
    frontend.send_to_widget(frontend.widget_shown(later), CLICKS["button"][1])
    assert frontend.finish(later)["status"] == "ok"
    assert frontend.text(later) == "can wait: True\ndecided: True ['approve']\n"


def test_timeout_returns_false_in_a_kernel(frontend: Frontend) -> None:
    cell = frontend.execute(
        "from heroku_magic.widgets.wait import can_wait, wait_for\n"
        "print(can_wait(), wait_for(lambda: False, timeout=0.2), wait_for(lambda: True, timeout=0))\n"
    )
    assert frontend.finish(cell)["status"] == "ok"
    assert frontend.text(cell) == "True False True\n"


def test_outside_a_kernel_it_only_polls() -> None:
    assert not can_wait()  # pytest's process runs no kernel: the caller falls back to input()
    assert wait_for(lambda: False, timeout=0.05, interval=0.01) is False
    assert wait_for(lambda: True, timeout=0) is True and wait_for(lambda: False, timeout=0) is False
    done = threading.Event()
    threading.Timer(0.05, done.set).start()
    assert wait_for(done.is_set, timeout=READ_TIMEOUT, interval=0.01) is True


def test_a_thread_cannot_wait() -> None:
    answers: list[bool] = []
    thread = threading.Thread(target=lambda: answers.append(can_wait()))
    thread.start()
    thread.join()
    assert answers == [False]


def test_importing_it_imports_no_kernel_machinery() -> None:
    code = "import sys, heroku_magic.widgets.wait; print(sorted({'zmq', 'ipykernel', 'IPython'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr
