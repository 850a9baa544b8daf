"""A real kernel (nbclient) runs %%heroku_chat against the simulator; the saved widget state and outputs tell."""

from __future__ import annotations

from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from heroku_magic.simulator import Simulator

pytestmark = pytest.mark.timeout(120)


def execute(*sources: str) -> Any:
    notebook = new_notebook(cells=[new_code_cell(s) for s in sources])
    NotebookClient(notebook, timeout=60, kernel_name="python3", store_widget_state=True).execute()
    return notebook


def widget_states(notebook: Any) -> dict[str, Any]:
    return notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]


def html_in_outputs(states: dict[str, Any]) -> str:
    texts = []
    for state in states.values():
        for output in state["state"].get("outputs", []) if state["model_name"] == "OutputModel" else []:
            data = output.get("data", {})
            assert "text/markdown" not in data  # model text never reaches the frontend as Markdown
            texts.append(data.get("text/html", ""))
    return "".join(texts)


def test_answer_and_reasoning_arrive_in_widgets_and_static_result_stays(simulator_env: Simulator) -> None:
    simulator_env.config.interval = 0.005  # several paints
    notebook = execute("%load_ext heroku_magic", "%%heroku_chat --thinking 2048\nWhy is the sky blue? echo")
    states = widget_states(notebook)
    shown = html_in_outputs(states)
    assert '<pre class="hm-code">' in shown  # the answer, as sanitized HTML, in output widgets
    assert "Let me" in shown or "The user wrote" in shown  # the reasoning too
    accordions = [s["state"] for s in states.values() if s["model_name"] == "AccordionModel"]
    assert accordions and accordions[0]["titles"][0].startswith("Thought for")
    assert accordions[0]["selected_index"] is None  # collapsed once the answer started
    outputs = notebook.cells[1].outputs
    # The live view's output was replaced by one that names no model: once the static result has
    # taken over, the widgets are closed, and a reopened notebook shows nothing in their place.
    assert outputs[0]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] == ""
    static = outputs[-1]
    assert "<details><summary>Thought for" in static["data"]["text/html"]
    assert "claude-4-5-sonnet" in static["data"]["text/html"]
    meta = static["metadata"]["heroku_magic"]
    assert (
        meta["usage"]["reasoning_tokens"] and meta["request_id"] and meta["time_to_first_token"] is not None
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
    notebook = execute("%load_ext heroku_magic", "%%heroku_chat\nhello")
    nbformat.validate(notebook)
