"""A real kernel (nbclient) runs %%heroku_chat against the simulator; the live view's messages and the outputs tell."""

from __future__ import annotations

import base64
import io
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook
from test_live import Column, inflated, step, visible_text

from heroku_magic.simulator import Simulator

pytestmark = pytest.mark.timeout(120)


class RecordingClient(NotebookClient):  # type: ignore[misc]
    """nbclient, also keeping the custom messages widgets receive (the live view's patches)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.patches: list[dict[str, Any]] = []

    def handle_comm_msg(self, outs: Any, msg: dict[str, Any], cell_index: int) -> None:
        data = msg["content"]["data"]
        if msg["msg_type"] == "comm_msg" and data.get("method") == "custom":
            self.patches.append(inflated(data["content"], msg.get("buffers") or []))
        super().handle_comm_msg(outs, msg, cell_index)


def execute(*sources: str) -> tuple[Any, list[dict[str, Any]]]:
    """The executed notebook, and the patches its live views received."""
    notebook = new_notebook(cells=[new_code_cell(s) for s in sources])
    client = RecordingClient(notebook, timeout=60, kernel_name="python3", store_widget_state=True)
    client.execute()
    return notebook, client.patches


def test_answer_and_reasoning_reach_the_live_view_and_the_static_result_stays(
    simulator_env: Simulator,
) -> None:
    simulator_env.config.interval = 0.005
    notebook, patches = execute(
        "%load_ext heroku_magic\n%config HerokuMagics.paint_interval = 0.02",  # several paints
        "%%heroku_chat --thinking 2048\nWhy is the sky blue? echo",
    )
    answer, reasoning = Column(), Column()
    for change in [step(patch) for patch in patches]:  # a turn without tools is one step
        for column, name in ((answer, "answer"), (reasoning, "reasoning")):
            if name in change:
                column.apply(change[name])
    assert len(patches) >= 2  # the first token at once, then the scheduler's paints
    # Finished blocks arrive as sanitized HTML; the last ones may still be tail text when the answer
    # ends (a live view gets no final paint: the static output replaces it at once).
    assert "<h3>" in answer.html[0] and "def summarize" in visible_text("".join(answer.html)) + answer.tail
    assert "Let me" in "".join(reasoning.html) + reasoning.tail  # the reasoning too
    assert any(step(patch).get("collapse") for patch in patches)  # folded once the answer started
    assert patches[-1]["clock"]["model"] == "claude-4-5-sonnet"
    outputs = notebook.cells[1].outputs
    # The live view's output was replaced by an empty one that names no model: once the static result
    # has taken over, a reopened notebook shows nothing in its place.
    assert outputs[0]["data"] == {"text/plain": ""}
    static = outputs[-1]
    assert "<details><summary>Thought for" in static["data"]["text/html"]
    assert "claude-4-5-sonnet" in static["data"]["text/html"]
    meta = static["metadata"]["heroku_magic"]
    assert (
        meta["usage"]["completion_tokens"] and meta["request_id"] and meta["time_to_first_token"] is not None
    )


def test_api_error_fails_the_cell_in_a_kernel(simulator_env: Simulator) -> None:
    simulator_env.inject("server_error", status=500, message="Failed to execute chat")
    notebook = new_notebook(
        cells=[new_code_cell("%load_ext heroku_magic"), new_code_cell("%%heroku_chat --retries 0\nhi")]
    )
    with pytest.raises(Exception) as info:
        NotebookClient(notebook, timeout=60, kernel_name="python3").execute()
    assert "APIError" in str(info.value) and "Failed to execute chat" in str(info.value)
    error = next(o for o in notebook.cells[1].outputs if o["output_type"] == "error")
    assert error["traceback"] == [
        f"APIError: Heroku Inference error 500: Failed to execute chat [request id {error['traceback'][0].split('request id ')[1]}"
    ]


def test_nbformat_is_valid(simulator_env: Simulator) -> None:
    notebook, _ = execute("%load_ext heroku_magic", "%%heroku_chat\nhello")
    nbformat.validate(notebook)


def test_without_widgets_in_a_kernel_the_answer_is_shown_once(simulator_env: Simulator) -> None:
    # The text streams while the answer arrives, then gives way to the static result the notebook keeps.
    notebook, _ = execute("%load_ext heroku_magic", "%%heroku_chat --no-widgets\necho: only once, please")
    outputs = notebook.cells[1].outputs
    shown = [o for o in outputs if o["output_type"] in ("stream", "display_data")]
    assert [o["output_type"] for o in shown] == ["display_data"]
    assert "only once, please" in shown[0]["data"]["text/plain"]


MAKE_PICTURE = (
    "import io\nfrom PIL import Image\nbuffer = io.BytesIO()\n"
    "Image.new('RGB', (640, 320), 'red').save(buffer, format='PNG')\npicture = buffer.getvalue()"
)


@pytest.mark.parametrize("flags", ["", "--no-widgets"])
def test_the_thumbnail_stays_above_the_answer_in_the_saved_notebook(
    simulator_env: Simulator, flags: str
) -> None:
    # Without widgets the streamed text is cleared at the end: the thumbnail must be drawn again.
    notebook, _ = execute(
        "%load_ext heroku_magic", MAKE_PICTURE, f"%%heroku_chat --image picture {flags}\nWhat is it?"
    )
    outputs = [o for o in notebook.cells[2].outputs if o["output_type"] == "display_data"]
    kinds = [
        "thumbnail" if "image/png" in o["data"] else "answer" if "text/html" in o["data"] else "view"
        for o in outputs
    ]
    assert kinds == (["thumbnail", "view", "answer"] if not flags else ["thumbnail", "answer"])
    thumbnail = outputs[0]
    assert thumbnail["metadata"]["image/png"] == {"width": 160, "height": 80}
    assert thumbnail["data"]["text/plain"].startswith("[image: picture, ")
    image = pytest.importorskip("PIL.Image").open(
        io.BytesIO(base64.b64decode(thumbnail["data"]["image/png"]))
    )
    assert image.size == (160, 80)  # a thumbnail, not the 640x320 original
    assert "Image 1: PNG, 640x320 pixels" in outputs[-1]["data"]["text/html"]
