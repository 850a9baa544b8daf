"""The live view: what each paint sends (patches), when paints happen (the scheduler), and its widget.

The patches are replayed by a copy of what ``chat_view.js`` does with them, and checked against
independent oracles: the whole text split in one go, html5lib's reading of the HTML, and the
safety oracle of test_safety. The browser itself is tested in tests/browser.
"""

from __future__ import annotations

import json
import logging
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import html5lib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_safety import FRAGMENTS, assert_safe

from heroku_magic.events import ReasoningDelta, ResponseInfo, TextDelta, ToolCall, Usage
from heroku_magic.explore import Configuration
from heroku_magic.options import ChatOptions
from heroku_magic.paint import PaintScheduler
from heroku_magic.render.live import LivePatcher
from heroku_magic.render.markdown import render_markdown, split_blocks
from heroku_magic.result import ResponseState


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Column:
    """What the browser holds of one column: the HTML fragments appended, and the tail text."""

    html: list[str] = field(default_factory=list)
    tail: str = ""

    def apply(self, change: dict[str, Any]) -> None:
        """chat_view.js's applyColumn."""
        if change.get("html"):
            self.html.append(change["html"])
        self.tail = change["tail"] if change.get("reset") else self.tail + change["tail"]


def inflated(content: dict[str, Any], buffers: list[Any]) -> dict[str, Any]:
    """A patch as the browser has it once chat_view.js has inflated its deflated HTML."""
    steps = []
    for step in content.get("steps", ()):
        step = dict(step)
        for name in ("answer", "reasoning"):
            change = step.get(name)
            if change and "z" in change:
                rest = {key: value for key, value in change.items() if key != "z"}
                step[name] = {**rest, "html": zlib.decompress(bytes(buffers[change["z"]])).decode()}
        steps.append(step)
    return {**content, "steps": steps} if steps else dict(content)


def step(patch: dict[str, Any], n: int = 0) -> dict[str, Any]:
    """The changes a patch makes to step ``n`` (a turn's first model call, by default)."""
    return next((change for change in patch.get("steps", ()) if change["n"] == n), {})


def visible_text(html: str) -> str:
    """The text a browser shows for ``html`` (as html5lib parses it), whitespace collapsed."""
    fragment = html5lib.parseFragment(html, namespaceHTMLElements=False)
    return " ".join("".join(fragment.itertext()).split())


def stream(pieces: list[str], paints: list[bool]) -> tuple[Column, list[dict[str, Any]], str]:
    """Feed ``pieces`` as answer text, painting after piece i when paints[i]; replay every patch."""
    clock = FakeClock()
    state, patcher, page = ResponseState(clock), LivePatcher(), Column()
    patches = []
    text = ""
    for piece, paint in zip(pieces, paints, strict=True):
        state.add(TextDelta(piece))
        text += piece
        if paint:
            patch = patcher.patch(state.progress(), clock())
            if patch:
                patches.append(patch)
                page.apply(step(patch)["answer"])
                assert page.tail == split_blocks(text)[1]  # the browser's tail is the text's tail
    return page, patches, text


chunks = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(chunks, st.data())
def test_the_tail_in_the_browser_is_always_the_texts_unfinished_block(pieces: list[str], data: Any) -> None:
    paints = data.draw(st.lists(st.booleans(), min_size=len(pieces), max_size=len(pieces)))
    _, patches, _ = stream(pieces, paints)
    for patch in patches:
        if "html" in step(patch)["answer"]:
            assert_safe(step(patch)["answer"]["html"])  # hostile text never reaches the browser as HTML
    assert all(json.loads(json.dumps(patch)) == patch for patch in patches)  # JSON-ready as is


# Without link references, math or HTML-ish text, how finished blocks are grouped into paints
# cannot change what they say: the oracle is the whole text's blocks, each rendered on its own.
PLAIN = [
    "word ",
    "x",
    "\n",
    "\n\n",
    "- ",
    "1. ",
    "# ",
    "```",
    "**",
    "`",
    "> ",
    "|a|b|\n|-|-|\n",
    "\\",
    "&",
    "  ",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PLAIN), min_size=1, max_size=40), st.data())
def test_what_the_browser_shows_does_not_depend_on_when_paints_happen(pieces: list[str], data: Any) -> None:
    paints = data.draw(st.lists(st.booleans(), min_size=len(pieces), max_size=len(pieces)))
    paints[-1] = True
    page, _, text = stream(pieces, paints)
    blocks, tail = split_blocks(text)
    assert page.tail == tail
    expected = "".join(render_markdown(block) for block in blocks)
    assert visible_text("".join(page.html)) == visible_text(expected)


def test_a_line_that_only_looks_like_a_closing_fence_keeps_the_block_open() -> None:
    # Found by the property above: "```word" cannot close a fence (a closing fence has nothing
    # after it), so the code block runs on; splitting there drew "- " outside the code.
    pieces = ["```", "\n", "```", "word ", "\n\n", "- ", "\n\n"]
    for paints in ([True] * len(pieces), [False] * (len(pieces) - 1) + [True]):
        page, _, text = stream(pieces, paints)
        assert (split_blocks(text)[0], page.tail) == ([], text)


def test_a_finished_block_is_sent_once_and_the_tail_as_deltas() -> None:
    page, patches, _ = stream(["First para", "graph.\n\nSec", "ond"], [True, True, True])
    assert step(patches[0])["answer"] == {"tail": "First para"}
    assert step(patches[1])["answer"] == {"html": "<p>First paragraph.</p>\n", "tail": "Sec", "reset": True}
    assert step(patches[2])["answer"] == {"tail": "ond"}  # only what arrived: never the whole tail again
    assert page.html == ["<p>First paragraph.</p>\n"] and page.tail == "Second"


def test_reasoning_then_answer_collapses_the_thoughts_once_and_times_them() -> None:
    clock = FakeClock()
    state, patcher = ResponseState(clock), LivePatcher()
    clock.now += 1.0
    state.add(ReasoningDelta("Let me think."))
    first = step(patcher.patch(state.progress(), clock()))
    assert first["reasoning"] == {"tail": "Let me think."}
    assert first["thinking"] == {"start": 1.0, "end": None} and "collapse" not in first
    clock.now += 2.5
    state.add(TextDelta("Answer"))
    second = step(patcher.patch(state.progress(), clock()))
    assert second["thinking"] == {"start": 1.0, "end": 3.5} and second["collapse"] is True
    state.add(TextDelta(" more"))
    third = step(patcher.patch(state.progress(), clock()))
    assert "collapse" not in third and "thinking" not in third  # the user may have opened it again
    assert patcher.patch(state.progress(), clock()) == {}  # nothing changed, nothing to send


def test_the_clock_model_tokens_and_tool_calls_travel_with_a_change() -> None:
    clock = FakeClock()
    state, patcher = ResponseState(clock), LivePatcher()
    state.add(ResponseInfo(model="claude-4-5-haiku"))
    state.add(ToolCall("call_1", "get_weather", '{"city": "Paris"}'))
    clock.now += 0.25
    state.add(Usage(prompt_tokens=3, completion_tokens=7, total_tokens=10))
    patch = patcher.patch(state.progress(), clock())
    assert step(patch)["cards"] == [
        {"i": 0, "id": "call_1", "name": "get_weather", "args": '{"city": "Paris"}', "state": "streaming"}
    ]
    assert patch["clock"] == {"elapsed": 0.25, "model": "claude-4-5-haiku", "tokens": 7}


# -- the scheduler -------------------------------------------------------------------------------


class CountingView:
    """A view that records the times it was asked to repaint."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.painted = threading.Event()

    def repaint(self, now: float) -> None:
        self.times.append(now)
        self.painted.set()


def test_a_step_repaints_every_registered_view_with_the_schedulers_clock() -> None:
    clock = FakeClock()
    scheduler = PaintScheduler(clock=clock)
    scheduler.start()
    try:
        views = [CountingView(), CountingView()]
        for view in views:
            scheduler.add(view)
        scheduler.step()
        clock.now += 1
        scheduler.remove(views[0])
        scheduler.step()
        assert views[0].times == [100.0] and views[1].times == [100.0, 101.0]
    finally:
        scheduler.stop()


def test_one_paint_thread_whatever_the_number_of_views_and_none_after_stop() -> None:
    before = threading.active_count()
    scheduler = PaintScheduler(interval=0.01)
    with pytest.raises(RuntimeError, match="not running"):
        scheduler.add(CountingView())  # views painted by no one would silently freeze
    scheduler.start()
    scheduler.start()  # idempotent
    views = [CountingView() for _ in range(64)]
    for view in views:
        scheduler.add(view)
    assert threading.active_count() == before + 1
    assert all(view.painted.wait(30) for view in views)  # the thread paints them all
    scheduler.stop()
    assert threading.active_count() == before and not scheduler.running


def test_a_view_that_fails_to_paint_is_dropped_and_the_others_go_on(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def repaint(self, now: float) -> None:
            raise RuntimeError("comm closed")

    scheduler = PaintScheduler(clock=FakeClock())
    scheduler.start()
    try:
        good = CountingView()
        scheduler.add(Broken())
        scheduler.add(good)
        scheduler.step()
        scheduler.step()
        assert len(good.times) == 2
        assert caplog.text.count("a live view failed to paint") == 1
    finally:
        scheduler.stop()


# -- the widget ----------------------------------------------------------------------------------


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """The patches live views send (what the browser would receive), in order."""
    from heroku_magic.widgets.live import ChatView

    messages: list[dict[str, Any]] = []
    from ipywidgets.widgets.widget import _instances

    from heroku_magic.widgets.display import close_widgets

    wire.clear()
    before = set(_instances)

    def send(self: ChatView, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        wire.append((content, buffers or []))
        messages.append(inflated(content, buffers or []))

    monkeypatch.setattr(ChatView, "send", send)
    yield messages
    for key in set(_instances) - before:  # widgets are counted: close what the test made
        if key in _instances:
            close_widgets(_instances[key])


wire: list[tuple[dict[str, Any], list[bytes]]] = []  # the same patches as sent, before inflating


@pytest.fixture
def scheduler() -> Any:
    """A running scheduler whose thread never wakes by itself: tests step it, each round an interval on."""
    clock = FakeClock()
    painter = PaintScheduler(interval=3600, clock=clock)
    one_round = painter.step

    def step() -> None:
        clock.now += painter.interval
        one_round()

    painter.step = step  # type: ignore[method-assign]
    painter.start()
    yield painter
    painter.stop()


def test_a_round_right_after_the_first_paint_waits_for_the_next(sent: list[dict[str, Any]]) -> None:
    from heroku_magic.widgets.live import LiveView

    clock = FakeClock()
    painter = PaintScheduler(interval=0.125, clock=clock)
    painter.start()
    try:
        live = LiveView(ResponseState(clock), painter)
        for piece, later in (("first", 0.0), ("second", 0.03), ("third", 0.04), ("fourth", 0.125)):
            clock.now += later
            live.state.add(TextDelta(piece))
            live.handle(TextDelta(piece))
            painter.step()
        # The first token painted at once; the round 30 ms later skipped; the round 70 ms after the
        # first paint painted; the next round 125 ms on painted again.
        assert [step(patch)["answer"]["tail"] for patch in sent] == ["first", "secondthird", "fourth"]
        live.close()
    finally:
        painter.stop()


def test_first_token_paints_at_once_then_only_the_scheduler_paints(
    sent: list[dict[str, Any]], scheduler: PaintScheduler, caplog: pytest.LogCaptureFixture
) -> None:
    from heroku_magic.widgets.live import LiveView

    caplog.set_level(logging.DEBUG, logger="heroku_magic.live")
    state = ResponseState(scheduler.clock)
    live = LiveView(state, scheduler, model="m")
    for event in (ResponseInfo(model="m"), TextDelta("Hel")):
        state.add(event)
        live.handle(event)
    assert len(sent) == 1 and step(sent[0])["answer"] == {"tail": "Hel"}  # before any scheduler round
    for piece in ["lo", " wor", "ld"] * 1000:
        state.add(TextDelta(piece))
        live.handle(TextDelta(piece))
    assert len(sent) == 1  # 3,000 more tokens: no paint until the scheduler's round
    scheduler.step()
    scheduler.step()  # nothing changed since: nothing sent
    assert len(sent) == 2 and step(sent[1])["answer"]["tail"] == "lo world" * 1000
    assert [r.getMessage() for r in caplog.records] == ["first paint 0.000000 s after the first token"]
    live.close()
    state.add(TextDelta("late"))
    scheduler.step()
    assert len(sent) == 2  # a closed view is not painted


def test_exploration_cards_share_the_one_paint_thread(
    sent: list[dict[str, Any]], scheduler: PaintScheduler
) -> None:
    from ipywidgets.widgets.widget import _instances

    from heroku_magic.widgets.display import close_widgets
    from heroku_magic.widgets.explore import ExploreView

    threads, widgets = threading.active_count(), len(_instances)
    configs = [Configuration({"temperature": n / 64}, ChatOptions(temperature=n / 64)) for n in range(64)]
    configs.append(Configuration({"top_k": -1}, None, "top_k must be positive"))
    grid = ExploreView(configs, scheduler, model="m")
    assert threading.active_count() == threads
    for index in range(64):
        grid.handle(index, TextDelta(f"card {index}"))
    assert len(sent) == 64  # each card's first token, painted at once
    assert grid.cards[64].widget.note == "Not sent: top_k must be positive"
    for index in range(64):
        grid.handle(index, TextDelta(" more"))
    scheduler.step()
    assert len(sent) == 128  # one message per card per round
    grid.close()
    close_widgets(grid.view)
    assert len(_instances) == widgets


def test_patches_never_carry_model_text_as_html_outside_the_renderers_output(
    sent: list[dict[str, Any]], scheduler: PaintScheduler
) -> None:
    from heroku_magic.widgets.live import LiveView

    state = ResponseState(scheduler.clock)
    live = LiveView(state, scheduler)
    hostile = '<img src=x onerror="alert(1)">'
    for event in (ReasoningDelta(f"<script>alert(1)</script>\n\n{hostile}"), TextDelta(f"{hostile}\n\nok")):
        state.add(event)
        live.handle(event)
    state.add(ToolCall("c", hostile, hostile))
    scheduler.step()
    live.close()
    changes = [change for patch in sent for change in patch.get("steps", ())]
    for change in changes:
        for name in ("answer", "reasoning"):
            if "html" in change.get(name, {}):
                assert_safe(change[name]["html"])
    # The hostile text is shown, but only through the channels the browser inserts as text.
    as_text = [change[n]["tail"] for change in changes for n in ("answer", "reasoning") if n in change]
    cards = [card for change in changes for card in change.get("cards", [])]
    assert hostile in "".join(as_text)
    assert [(card["name"], card["args"]) for card in cards] == [(hostile, hostile)]


def test_a_pooled_widget_serves_one_cell_after_another_each_turn_starting_blank(
    sent: list[dict[str, Any]], scheduler: PaintScheduler
) -> None:
    from heroku_magic.widgets.live import LiveView, ViewPool

    pool = ViewPool(keep=1)
    first = LiveView(ResponseState(scheduler.clock), scheduler, widget=pool.take("model-a"))
    for piece in ("one", " two"):
        first.state.add(TextDelta(piece))
        first.handle(TextDelta(piece))
        scheduler.step()
    first.close()
    pool.give(first.widget)
    second = LiveView(ResponseState(scheduler.clock), scheduler, widget=pool.take("model-b"))
    assert second.widget is first.widget and second.widget.model_name == "model-b"
    second.state.add(TextDelta("three"))
    second.handle(TextDelta("three"))
    # Each turn's first paint names it (the browser starts a blank page for it); later paints don't.
    assert [patch.get("start") for patch in sent] == [first.turn, None, second.turn]
    assert first.turn != second.turn
    # Approve/Deny clicks reach the turn showing now, not a turn that used the widget before.
    second.widget._handle_custom_msg({"approve": "call-1", "approved": True}, [])
    assert second.decisions == {"call-1": True} and first.decisions == {}
    second.close()


def test_the_pool_keeps_a_few_open_views_and_closes_the_rest() -> None:
    from ipywidgets.widgets.widget import _instances

    from heroku_magic.widgets.display import shared_layout
    from heroku_magic.widgets.live import ViewPool

    shared_layout()
    widgets = set(_instances)
    pool = ViewPool(keep=2)
    views = [pool.take("m") for _ in range(3)]  # three cells at once: three views
    assert len({id(view) for view in views}) == 3
    for view in views:
        pool.give(view)
    assert len(pool) == 2 and views[2].comm is None  # the third one was closed
    views[1].close()  # closed by someone else (``Widget.close_all()``) while it waited
    assert pool.take("m") is views[0]  # the closed one is skipped
    assert len(pool) == 0
    pool.give(views[0])
    pool.close()
    assert len(pool) == 0 and set(_instances) == widgets


def test_a_rate_limited_card_starts_afresh_and_says_why_until_it_answers(
    sent: list[dict[str, Any]], scheduler: PaintScheduler
) -> None:
    from heroku_magic.widgets.explore import ExploreView

    grid = ExploreView([Configuration({}, ChatOptions())], scheduler, model="m")
    grid.handle(0, TextDelta("first attempt"))
    grid.retry(0, 2.0)
    card = grid.cards[0]
    assert sent[-1] == {"clear": True} and card.widget.note.startswith("Rate limited by Heroku (429)")
    grid.handle(0, TextDelta("second"))
    assert step(sent[-1])["answer"] == {"tail": "second"}  # the new attempt only, from a blank page
    assert card.widget.note == ""
    grid.close()


def test_large_html_travels_deflated_and_small_patches_as_plain_json(
    sent: list[dict[str, Any]], scheduler: PaintScheduler
) -> None:
    from heroku_magic.simulator.models import _long_markdown
    from heroku_magic.widgets.live import LiveView

    state = ResponseState(scheduler.clock)
    live = LiveView(state, scheduler)
    text = _long_markdown(3000)
    for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
        state.add(TextDelta(piece))
        live.handle(TextDelta(piece))
        scheduler.step()
    deflated = [(content, buffers) for content, buffers in wire if buffers]
    assert deflated and all("html" not in step(content)["answer"] for content, _ in deflated)
    assert (
        sum(len(b) for _, buffers in deflated for b in buffers)
        < sum(len(step(p)["answer"].get("html", "")) for p in sent) / 2
    )  # Markdown's HTML compresses well
    page = Column()
    for patch in sent:
        page.apply(step(patch)["answer"])
    blocks, tail = split_blocks(text)
    assert page.tail == tail and visible_text("".join(page.html)) == visible_text(
        render_markdown("".join(blocks))
    )
    live.close()


# -- a turn of several steps: sections and tool cards --------------------------------------------


@dataclass
class Card:
    """What the browser holds of a tool card (chat_view.js's applyCard)."""

    name: str = ""
    args: str = ""
    state: str = "streaming"
    result: str | None = None

    def apply(self, change: dict[str, Any]) -> None:
        self.name = change.get("name", self.name)
        self.args += change.get("args", "")
        self.state = change.get("state", self.state)
        self.result = change.get("result", self.result)


@dataclass
class Section:
    """One step on the page: its answer column and its cards."""

    answer: Column = field(default_factory=Column)
    cards: list[Card] = field(default_factory=list)

    def apply(self, change: dict[str, Any]) -> None:
        if "answer" in change:
            self.answer.apply(change["answer"])
        for card in change.get("cards", []):
            while len(self.cards) <= card["i"]:
                self.cards.append(Card())
            self.cards[card["i"]].apply(card)


def tool_turn_events() -> list[Any]:
    """A two-step turn as the tool loop yields it: text, two calls streamed, results, then the answer."""
    from heroku_magic.events import NewStep, ToolCallDelta, ToolResult, ToolStatus

    return [
        TextDelta("Checking both.\n\n"),
        ToolCallDelta(0, "a", "get_weather", '{"city": '),
        ToolCallDelta(0, "a", None, '"Paris"}'),
        ToolCallDelta(1, "b", "get_time", '{"zone": "UTC"}'),
        ToolCall("a", "get_weather", '{"city": "Paris"}'),
        ToolCall("b", "get_time", '{"zone": "UTC"}'),
        ToolStatus("a", "running"),
        ToolStatus("b", "running"),
        ToolResult("b", "get_time", "12:00", duration=0.01),
        ToolResult("a", "get_weather", '{"temp": 21}', duration=0.02),
        NewStep(1),
        TextDelta("It is 21 degrees "),
        TextDelta("at noon.\n\nDone"),
    ]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), min_size=13, max_size=13))
def test_a_multi_step_turn_looks_the_same_whatever_the_paints(paints: list[bool]) -> None:
    clock = FakeClock()
    state, patcher = ResponseState(clock), LivePatcher()
    sections: list[Section] = []
    paints[-1] = True
    for event, paint in zip(tool_turn_events(), paints, strict=True):
        state.add(event)
        if paint:
            for change in patcher.patch(state.progress(), clock()).get("steps", []):
                while len(sections) <= change["n"]:
                    sections.append(Section())
                sections[change["n"]].apply(change)
    result = state.result()  # the oracle: what the turn folded to, step by step
    assert len(sections) == len(result.steps) == 2
    for section, step in zip(sections, result.steps, strict=True):
        blocks, tail = split_blocks(step.response.text)
        assert section.answer.tail == tail
        assert visible_text("".join(section.answer.html)) == visible_text(render_markdown("".join(blocks)))
        results = {r.tool_call_id: r for r in step.tool_results}
        assert [(c.name, c.args, c.state, c.result) for c in section.cards] == [
            (call.name, call.arguments, "done", json.dumps(json.loads(results[call.id].content), indent=2)
             if results[call.id].content.startswith("{") else results[call.id].content)
            for call in step.response.tool_calls
        ]  # fmt: skip
