"""Renderers: the static bundle, the terminal renderer, sanitizing, and the driver (live views: test_live.py)."""

from __future__ import annotations

import _thread
import threading
import time
from collections.abc import Iterator

import pytest
from fakes import answer
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from polling import wait_until

from heroku_magic import APIError, ChatResult, Done, Error, Event, ReasoningDelta, TextDelta, Usage
from heroku_magic.render import drive
from heroku_magic.render.markdown import first_code_block, split_blocks
from heroku_magic.render.static import static_bundle
from heroku_magic.render.text import TextRenderer
from heroku_magic.result import ResponseState
from heroku_magic.simulator import Simulator


def finish(events: list[Event]) -> list[Event]:
    accumulator = ResponseState()
    for event in events:
        accumulator.add(event)
    return [*events, Done(accumulator.result())]


def test_static_bundle() -> None:
    result = ChatResult(
        text="<b>hi</b> **there**",
        reasoning="why <i>",
        model="m",
        usage=Usage(1, 2, 3, 1),
        total_time=1.5,
        time_to_first_token=0.5,
    )
    data, metadata = static_bundle(result, thinking_time=0.25)
    html = data["text/html"]
    assert html.startswith("<details><summary>Thought for 0.2 s</summary>\n<p>why &lt;i&gt;</p>")
    assert "<p>&lt;b&gt;hi&lt;/b&gt; <strong>there</strong></p>" in html
    assert (
        "m · 1 prompt · 2 completion · 1 reasoning tokens · first token 0.50 s · total 1.50 s · 2 tok/s"
        in html
    )
    assert "text/markdown" not in data
    assert data["text/plain"] == "<b>hi</b> **there**"
    assert metadata["heroku_magic"]["usage"]["total_tokens"] == 3


def test_text_renderer_streams_plain_text() -> None:
    import io

    out = io.StringIO()
    events = finish([ReasoningDelta("hmm"), TextDelta("Hello"), TextDelta(" there")])
    drive(iter(events), [TextRenderer(out)])
    assert out.getvalue().startswith("[thinking]\nhmm\n\n[answer]\nHello there\n\n-- ")


def test_split_blocks_keeps_fences_whole() -> None:
    blocks, tail = split_blocks("p1\n\n```\ncode\n\nmore\n```\n\np3")
    assert blocks == ["p1\n\n", "```\ncode\n\nmore\n```\n\n"] and tail == "p3"
    assert first_code_block("x\n```py\nprint(1)\n```\n") == "print(1)"


def test_driver_closes_renderers_on_error_and_raises() -> None:
    seen: list[tuple[str, BaseException | None]] = []

    class Spy:
        def handle(self, event: Event) -> None:
            pass

        def close(self, result: ChatResult, error: BaseException | None) -> None:
            seen.append((result.text, error))

    error = APIError("boom", status=500)
    with pytest.raises(APIError):
        drive(iter([TextDelta("part"), Error(error, ChatResult(text="part"))]), [Spy(), Spy()])
    assert seen == [("part", error), ("part", error)]


def test_driver_on_interrupt_closes_stream_and_renderers() -> None:
    closed: list[str] = []

    def events() -> Iterator[Event]:
        try:
            yield TextDelta("partial")
            yield TextDelta("never")
        finally:
            closed.append("stream")

    class Interrupting:
        def handle(self, event: Event) -> None:
            raise KeyboardInterrupt

        def close(self, result: ChatResult, error: BaseException | None) -> None:
            closed.append(f"renderer:{result.text}:{result.interrupted}:{type(error).__name__}")

    with pytest.raises(KeyboardInterrupt):
        drive(events(), [Interrupting()])
    assert closed == ["stream", "renderer:partial:True:KeyboardInterrupt"]


def test_kernel_interrupt_mid_stream_keeps_partial_and_closes_connection(
    simulator_env: Simulator, sigint_raises: None
) -> None:
    InteractiveShell.clear_instance()
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "heroku_magic")
    simulator_env.config.interval = 0.01

    def interrupt_once_streaming() -> None:
        wait_until(lambda: simulator_env.active_streams)
        time.sleep(0.2)
        _thread.interrupt_main()  # what a kernel interrupt does

    timer = threading.Thread(target=interrupt_once_streaming)
    timer.start()
    with capture_output() as captured:
        outcome = ip.run_cell("%%heroku_chat\nwords:2000")
    timer.join()
    assert isinstance(outcome.error_in_exec, KeyboardInterrupt)
    assert outcome.error_in_exec._render_traceback_() == [
        "Interrupted: the response was stopped; the partial answer stays above "
        "(kept in conversation 'default', marked interrupted)"
    ]
    session = ip.magics_manager.registry["HerokuMagics"].session
    turn = session.conversation().turns[0]
    assert turn.result.interrupted and 0 < turn.result.text.count("w") < 2000
    assert any(
        "Interrupted: the answer above is partial" in o.data.get("text/html", "") for o in captured.outputs
    )
    assert wait_until(lambda: not simulator_env.active_streams)  # the connection was closed, not drained
    simulator_env.config.interval = 0
    ip.run_line_magic("unload_ext", "heroku_magic")
    assert ip.run_cell("%%heroku_chat\nstill there?").success  # the conversation stays usable
    assert len(session.conversation()) == 2
    InteractiveShell.clear_instance()


def test_fake_answer_helper_is_consistent() -> None:
    assert [e.text for e in answer("a b") if isinstance(e, TextDelta)] == ["a ", "b "]


def test_text_renderer_drops_what_a_terminal_would_obey() -> None:
    import io

    out = io.StringIO()
    hostile = "ok\x1b]52;c;cHduZWQ=\x07 \x1b[2J\x1b[1A\rover\x9b31m\r\nline\tend"
    drive(iter(finish([ReasoningDelta("\x1b]0;title\x07think"), TextDelta(hostile)])), [TextRenderer(out)])
    written = out.getvalue()
    assert not [c for c in written if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F]
    assert "]52;c;cHduZWQ= [2J[1Aover31m\nline\tend" in written  # the text itself is kept
