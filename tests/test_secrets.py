"""The key never shows: not in outputs, saved notebooks, widget state, exports, reprs, vars() or logs.

A simulator accepts a distinctive key; the notebooks and the error paths run against it, and
everything they produce is searched for the key and for pieces of its middle (a key split by a stray
newline must not show either).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from nbclient import NotebookClient

import heroku_magic
from heroku_magic.simulator import Simulator, SimulatorConfig

KEY = "inf-c4n4ryLeakProbe7f3e91d2-wxyz"
# The whole key, its middle, and each half of the middle (a key split in two must not show either).
NEEDLES = (KEY, "c4n4ryLeakProbe7f3e91d2", "c4n4ryLeak", "Probe7f3e91d2")
WRONG_KEY = "inf-wr0ngLeakProbe7f3e91d2-qrst"  # shares the middle's second half: it is looked for too
NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
# openai's transport is httpx or httpx2 (with httpcore or httpcore2), depending on its version.
TRANSPORT_LOGGERS = ("heroku_magic", "openai", "httpx", "httpx2", "httpcore", "httpcore2")

pytestmark = pytest.mark.timeout(120)


def leaks(texts: list[str]) -> list[str]:
    """Each text that contains a needle, cut around it."""
    found = []
    for text in texts:
        for needle in NEEDLES:
            at = text.find(needle)
            if at >= 0:
                found.append(f"{needle!r} in ...{text[max(0, at - 80) : at + 80]!r}...")
    return found


@pytest.fixture(scope="module")
def canary() -> Iterator[Simulator]:
    """A simulator that accepts only the distinctive key."""
    with Simulator(SimulatorConfig(port=0, key=KEY, ttft=0.0, interval=0.0)) as sim:
        yield sim


@pytest.fixture
def canary_env(canary: Simulator, monkeypatch: pytest.MonkeyPatch) -> Simulator:
    """INFERENCE_* point at the canary simulator (kernels started now inherit them)."""
    canary.reset()
    for name, value in canary.env().items():
        monkeypatch.setenv(name, value)
    return canary


def error_texts(error: BaseException | None) -> list[str]:
    """What IPython, %tb or a debugger could show of an error: its chain, each as str, repr and traceback."""
    texts = []
    while error is not None:
        texts += [str(error), repr(error), "".join(traceback.format_exception(error))]
        render = getattr(error, "_render_traceback_", None)
        texts += render() if render is not None else []
        error = error.__cause__ or error.__context__
    return texts


def test_in_process_outputs_errors_exports_reprs_widgets_and_logs_never_show_the_key(
    canary_env: Simulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    from ipywidgets import Widget

    caplog.set_level(logging.DEBUG)
    for name in (*TRANSPORT_LOGGERS, "uvicorn", "uvicorn.error"):  # the client's, and the simulator's
        caplog.set_level(logging.DEBUG, logger=name)
    InteractiveShell.clear_instance()
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "heroku_magic")
    ip.run_line_magic("config", "HerokuMagics.widgets = True")  # live widgets, as in a notebook
    texts: list[str] = []
    errors: dict[str, BaseException | None] = {}

    def run(source: str) -> None:
        with capture_output() as captured:
            outcome = ip.run_cell(source)
        error = outcome.error_in_exec or outcome.error_before_exec
        errors[source] = error
        texts.extend([captured.stdout, captured.stderr, *error_texts(error)])
        texts.extend(repr((o.data, o.metadata)) for o in captured.outputs)

    run("%%heroku_chat --thinking --out answer\nhello")
    run("%%heroku_chat -c other --no-stream\nhello again")
    run("%heroku_controls")
    run("%%heroku_explore --grid temperature=0,1 --out runs\nhi")
    run("%%heroku_chat -m no-such-model\nforbidden")
    canary_env.inject("in_band_error")
    run("%%heroku_chat\nin-band failure")
    canary_env.inject("rate_limit", retry_after="0")
    run("%%heroku_chat --retries 0\nrate limited")
    run(f"%heroku_history --export {tmp_path / 'history.md'}")
    run(f"%heroku_history other --export {tmp_path / 'history.json'}")
    run("%heroku_history")
    run("%config HerokuMagics")
    monkeypatch.setenv("INFERENCE_KEY", WRONG_KEY)
    run("%%heroku_chat\nwrong key")
    monkeypatch.setenv("INFERENCE_KEY", KEY.replace("Leak", "Leak\n"))  # a stray newline
    run("%%heroku_chat\nsplit key")
    monkeypatch.setenv("INFERENCE_KEY", KEY.replace("Leak", "Leäk"))
    run("%%heroku_chat\nnon-ASCII key")
    monkeypatch.setenv("INFERENCE_KEY", KEY)

    session = heroku_magic.current_session()
    texts += [repr(session), str(session), repr(vars(session))]
    assert session._clients  # the clients (and the SDK clients inside them) exist
    for client in session._clients.values():
        texts += [repr(client), repr(vars(client)), repr(client.settings), str(client.settings)]
        texts += [repr(vars(client.settings)), repr(client.settings.key), str(client.settings.key)]
    for conversation in session.conversations.values():
        texts += [repr(conversation), repr(vars(conversation)), conversation.to_json()]
    texts += [repr(ip.user_ns["answer"]), repr(vars(ip.user_ns["answer"])), repr(ip.user_ns["runs"].rows())]
    texts += [path.read_text() for path in tmp_path.iterdir()]
    texts.append(repr(Widget.get_manager_state(drop_defaults=False)))
    texts += [caplog.text, *(repr(vars(record)) for record in caplog.records)]
    ip.run_line_magic("unload_ext", "heroku_magic")
    InteractiveShell.clear_instance()

    assert leaks(texts) == []
    # Every path above was taken: answers, each failure, the exports and the logs.
    assert errors["%%heroku_chat --thinking --out answer\nhello"] is None
    assert "403" in str(errors["%%heroku_chat -m no-such-model\nforbidden"])
    assert "Failed to execute chat" in str(errors["%%heroku_chat\nin-band failure"])
    assert "429" in str(errors["%%heroku_chat --retries 0\nrate limited"])
    assert "401" in str(errors["%%heroku_chat\nwrong key"])
    assert str(errors["%%heroku_chat\nsplit key"]).startswith("INFERENCE_KEY contains a line break")
    assert str(errors["%%heroku_chat\nnon-ASCII key"]).startswith("INFERENCE_KEY contains a non-ASCII")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["history.json", "history.md"]
    assert any(record.name.startswith("httpcore") for record in caplog.records)
    assert any(record.name.startswith("openai") for record in caplog.records)
    assert "inf-…wxyz" in repr(vars(session))  # the key is there, masked


SETUP_CELL = f"""\
import logging, sys
_handler = logging.StreamHandler(sys.stderr)
for _name in {TRANSPORT_LOGGERS!r}:
    logging.getLogger(_name).setLevel(logging.DEBUG)
    logging.getLogger(_name).addHandler(_handler)
"""
EXTRA_CELLS = [
    "%%heroku_chat --thinking\nOne more, for the exports.",
    "%heroku_history --export {tmp}/history.md",
    "%heroku_history --export {tmp}/history.json",
    "import heroku_magic\n_session = heroku_magic.current_session()\n"
    "print(repr(_session), vars(_session))\n"
    "for _client in _session._clients.values():\n"
    "    print(repr(_client), vars(_client), vars(_client.settings))\n"
    "for _conversation in _session.conversations.values():\n"
    "    print(repr(_conversation), vars(_conversation))",
    "%%heroku_chat -m no-such-model\nforbidden",
    "import os\n_good = os.environ['INFERENCE_KEY']\n"
    "os.environ['INFERENCE_KEY'] = _good.replace('c4n4ry', 'wr0ng')",
    "%%heroku_chat\nwrong key",
    "os.environ['INFERENCE_KEY'] = _good.replace('Leak', 'Leak\\n')",
    "%%heroku_chat\nsplit key",
    "os.environ['INFERENCE_KEY'] = _good",
]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_executed_notebooks_and_their_saved_files_never_show_the_key(
    canary_env: Simulator, tmp_path: Path, path: Path
) -> None:
    notebook = nbformat.read(path, as_version=4)
    extra = [nbformat.v4.new_code_cell(source.format(tmp=tmp_path)) for source in EXTRA_CELLS]
    notebook.cells = [nbformat.v4.new_code_cell(SETUP_CELL), *notebook.cells, *extra]
    NotebookClient(
        notebook,
        timeout=60,
        kernel_name="python3",
        store_widget_state=True,
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    saved = tmp_path / path.name
    nbformat.write(notebook, saved)

    outputs = {cell.source: cell.get("outputs", []) for cell in notebook.cells}

    def shown(source: str) -> str:
        return "".join(o.get("text", "") + o.get("evalue", "") for o in outputs[source])

    # A UsageError is one stderr line in a kernel; an APIError is an error output of one line.
    assert "UsageError: INFERENCE_KEY contains a line break (character 15 of 33)" in shown(
        "%%heroku_chat\nsplit key"
    )
    assert "Heroku Inference error 401" in shown("%%heroku_chat\nwrong key")
    assert "Heroku Inference error 403" in shown("%%heroku_chat -m no-such-model\nforbidden")
    assert "widgets" in notebook.metadata  # the widget state is in the saved file that is searched
    logged = "".join(o.get("text", "") for cell in outputs.values() for o in cell)
    assert "HTTP Request: POST" in logged  # the package's, openai's and httpx's debug logs are in it
    files = [saved, tmp_path / "history.md", tmp_path / "history.json"]
    assert leaks([file.read_text() for file in files]) == []
