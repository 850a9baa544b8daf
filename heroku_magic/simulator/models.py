"""Deterministic simulated models: the same request always gets the same answer (only completion ids vary).

The answer depends on the model, the messages and the options. What it looks like is chosen by the
text of the LAST user message ("the prompt"), through these prompt directives:

``echo:<text>``
    If the prompt starts with ``echo:`` (any case, after leading whitespace), the answer is exactly
    the text after the colon, with one leading space removed: multi-line, verbatim, never escaped.
    Use it to test Markdown rendering and HTML escaping.
``words:N``
    If the prompt contains ``words:N`` (e.g. ``words:20000``), the answer is ``"w1 w2 ... wN "``
    streamed as exactly N content chunks, one word each (for stream-length tests; N <= 200000).
``markdown:N``
    If the prompt contains ``markdown:N``, the answer is a long Markdown document streamed as exactly
    N one-word content chunks: a paragraph of about 60 words, an 8-item bullet list, a 150-line
    fenced ``python`` block, then more such paragraphs, cut at N chunks (for rendering benchmarks).
naming a tool, ``key=value``, ``N rounds``, ``malformed arguments``, ``invalid arguments``
    When the request offers ``tools``, a prompt that names one calls it: see
    `heroku_magic.simulator.toolcalls` for the tool directives, multi-round turns and the ids.
    Replies that call tools have empty content, as Heroku's do.
a trailing ``tool`` message
    When the last message is a tool result, the model calls tools again if the prompt asked for
    more rounds, else answers with a line quoting each tool result of the turn
    (``get_weather returned: {"temp": 21}``) and a closing sentence (finish_reason ``stop``).
``response_format: {"type": "json_object"}``
    The answer is a JSON object inside a ```` ```json ```` fence, preceded by one sentence. Heroku
    marks ``response_format`` "Yes, but ignored" (Dev Center) / "Partial" (SDK guide), so JSON mode
    is not guaranteed: clients must find the JSON themselves. Same request, same text.
image parts
    The default and JSON answers list each image of the conversation, in order, as
    ``Image 1: PNG, 2x3 pixels, 67 bytes.`` (read from the image's header bytes).
anything else
    A Markdown answer: a heading quoting the prompt's first 60 characters, a paragraph, a 3-item
    bullet list, a fenced ``python`` block and a closing sentence, its phrases picked by a hash of
    the conversation (turn number and system prompt are mentioned when present).

Directives are checked in this order: a trailing tool message (another round or the quoting
answer), a forced tool call, ``echo:``, ``words:N``, ``markdown:N``, a tool mention,
``json_object``, the default.

Options: extended thinking (or ``reasoning_effort``) produces a few sentences of reasoning that
mention the prompt; it is returned only with ``include_reasoning`` and always counted in
``completion_tokens``. ``stop`` cuts the answer before the first stop sequence; ``max_tokens`` (or
``max_completion_tokens``) keeps that many words and sets finish_reason ``length``.
Tokens are words: prompt tokens count the words of all messages, completion tokens the words of
the answer, tool calls and reasoning.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from .toolcalls import ToolCall, current_turn, plan_tool_calls, tool_rounds
from .validation import ChatRequest

_ECHO = re.compile(r"\s*echo:", re.IGNORECASE)
_WORDS = re.compile(r"\bwords:(\d+)\b", re.IGNORECASE)
_MARKDOWN = re.compile(r"\bmarkdown:(\d+)\b", re.IGNORECASE)
_PIECE = re.compile(r"^\s+|\S+\s*")
SNIPPET_CHARS = 60
RESULT_CHARS = 200  # a tool result is quoted up to this many characters
MAX_WORDS = 200_000  # words:N and markdown:N beyond this is clamped, so a typo cannot exhaust memory

_TITLES = ("Notes on", "Thoughts on", "About", "A quick take on", "Answering")
_OPENERS = (
    "Here is a short, simulated answer from **{model}**. It is deterministic, so asking again gives "
    "the same text, which keeps notebooks and tests reproducible.",
    "This reply comes from the local Heroku simulator running **{model}**. Nothing left this machine; "
    "the words are chosen from a fixed set by a hash of the conversation.",
    "Simulated **{model}** here. The structure below (list, code, emphasis) is meant to exercise "
    "renderers, and the `inline code` and _italics_ are part of that.",
)
_BULLETS = (
    "Break the problem into **small steps** and check each one.",
    "Keep the data flow explicit: inputs in, results out.",
    "Write a test that fails before the fix and passes after it.",
    "Measure before optimising; guesses are often wrong.",
    "Name things after what they mean, not how they work.",
    "Prefer one clear path over several clever ones.",
    "Handle errors where you can say something useful about them.",
    "Leave the code a little tidier than you found it.",
)
_CLOSERS = (
    "I hope this helps; ask a follow-up question to continue the conversation.",
    "That covers the essentials; tell me which part to expand.",
    "Let me know if you would like a longer example.",
)
_THOUGHTS = (
    ("First I should restate the question in my own words.", "Let me identify what is really being asked."),
    ("The key constraint seems to be clarity over completeness.", "A short structured answer fits best."),
    ("A list of practical points will be easier to follow.", "An example in code would make it concrete."),
    ("I should double-check that nothing important is missing.", "Let me make sure the tone stays helpful."),
)


@dataclass(frozen=True)
class Reply:
    """A simulated answer, already cut into the pieces a stream would carry."""

    content_chunks: tuple[str, ...]
    finish_reason: str
    prompt_tokens: int
    reasoning_chunks: tuple[str, ...] = ()
    reasoning_tokens: int = 0
    tool_calls: tuple[ToolCall, ...] = ()

    @property
    def content(self) -> str:
        """The whole answer text."""
        return "".join(self.content_chunks)

    @property
    def reasoning(self) -> str | None:
        """The returned reasoning text, or None when reasoning is not returned."""
        return "".join(self.reasoning_chunks) if self.reasoning_chunks else None

    @property
    def completion_tokens(self) -> int:
        """Words of the answer, the tool calls and the reasoning."""
        calls = sum(count_tokens(f"{call.name} {call.arguments}") for call in self.tool_calls)
        return count_tokens(self.content) + calls + self.reasoning_tokens


def count_tokens(text: str) -> int:
    """The simulator's token count: whitespace-separated words."""
    return len(text.split())


def message_text(message: dict[str, Any]) -> str:
    """The text of a message (text parts of list content joined by newlines)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The text of the last user message, or "" if there is none."""
    return next((message_text(m) for m in reversed(messages) if m.get("role") == "user"), "")


def snippet(text: str) -> str:
    """The first 60 characters of ``text`` on one line, with an ellipsis when cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[:SNIPPET_CHARS].rstrip() + "…"


def pieces(text: str, per_chunk: int = 0) -> tuple[str, ...]:
    """Cut ``text`` into stream pieces that join back to it exactly.

    ``per_chunk`` words per piece, or 0 to alternate one and two words like a tokenizer might.
    """
    words = _PIECE.findall(text)
    if words and not words[0].strip() and len(words) > 1:
        words[1] = words[0] + words[1]  # leading whitespace travels with the first word
        del words[0]
    chunks, index, size = [], 0, 1
    while index < len(words):
        step = per_chunk or size
        chunks.append("".join(words[index : index + step]))
        index += step
        size = 3 - size
    return tuple(chunks)


def simulate(request: ChatRequest) -> Reply:
    """The simulated model's answer to ``request``."""
    prompt = last_user_text(request.messages)
    seed = _seed(request)
    prompt_tokens = max(1, sum(count_tokens(message_text(m)) for m in request.messages))
    reasoning = _reasoning(prompt, seed) if request.budget_tokens else ""
    returned = pieces(reasoning) if request.include_reasoning else ()
    common: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "reasoning_chunks": returned,
        "reasoning_tokens": count_tokens(reasoning),
    }
    after_tools = request.messages[-1].get("role") == "tool"
    directive = None if after_tools else _directive(prompt)
    # A named tool_choice is "required" too.
    if after_tools or request.tool_choice == "required" or directive is None:
        tool_calls = plan_tool_calls(request, prompt)
        if tool_calls:  # Heroku sends empty content alongside tool calls
            return Reply((), "tool_calls", tool_calls=tool_calls, **common)
    if after_tools:
        text, finish_reason = limit(
            _tool_results_answer(request.messages, prompt), request.stop, request.max_tokens
        )
        return Reply(pieces(text), finish_reason, **common)
    if directive is not None:
        text, per_chunk = directive
    elif request.json_object:
        text, per_chunk = _json_answer(request, prompt, seed), 0
    else:
        text, per_chunk = _markdown_answer(request, prompt, seed), 0
    text, finish_reason = limit(text, request.stop, request.max_tokens)
    return Reply(pieces(text, per_chunk), finish_reason, **common)


def _directive(prompt: str) -> tuple[str, int] | None:
    """(answer, words per chunk) for the ``echo:``, ``words:N`` and ``markdown:N`` directives, else None."""
    echo = _ECHO.match(prompt)
    if echo:
        rest = prompt[echo.end() :]
        return (rest[1:] if rest.startswith(" ") else rest), 0
    words = _WORDS.search(prompt)
    if words:
        count = min(int(words.group(1)), MAX_WORDS)
        return "".join(f"w{n} " for n in range(1, count + 1)), 1
    markdown = _MARKDOWN.search(prompt)
    if markdown:
        return _long_markdown(min(int(markdown.group(1)), MAX_WORDS)), 1
    return None


def _long_markdown(count: int) -> str:
    """A Markdown document of ``count`` one-word pieces: paragraphs, a list, a long code block."""
    sentences = _BULLETS + _CLOSERS  # 11 sentences of about 10 words

    def paragraph(number: int) -> str:
        return " ".join(sentences[(number * 6 + i) % len(sentences)] for i in range(6)) + "\n\n"

    code = [
        line
        for n in range(1, 38)
        for line in (
            f"def step_{n}(values: list[int]) -> list[int]:",
            f'    """Add {n} to every value."""',
            f"    return [value + {n} for value in values]",
            "",
        )
    ]
    parts = [paragraph(0), *(f"- {bullet}\n" for bullet in _BULLETS), "\n```python\n"]
    parts += [line + "\n" for line in (*code, "result = step_37([1, 2, 3])", "print(result)", "```")]
    parts.append("\n")
    words = sum(len(part.split()) for part in parts)
    parts += [paragraph(n) for n in range(1, 2 + max(0, count - words) // 50)]
    return "".join(pieces("".join(parts), 1)[:count])


def limit(text: str, stop: tuple[str, ...], max_tokens: int | None) -> tuple[str, str]:
    """Apply stop sequences, then the token limit; return (text, finish_reason)."""
    cuts = [text.find(sequence) for sequence in stop if sequence in text]
    if cuts:
        text = text[: min(cuts)]
    if max_tokens is not None and count_tokens(text) > max_tokens:
        kept = _PIECE.findall(text)
        words = [word for word in kept if word.strip()][:max_tokens]
        lead = kept[0] if kept and not kept[0].strip() else ""
        return (lead + "".join(words)).rstrip(), "length"
    return text, "stop"


def _seed(request: ChatRequest) -> bytes:
    """A stable hash of model and conversation (Python's hash() changes between processes)."""
    conversation = [[m.get("role"), message_text(m)] for m in request.messages]
    return hashlib.sha256(json.dumps([request.model, conversation]).encode()).digest()


def _pick(options: tuple[Any, ...], seed: bytes, slot: int) -> Any:
    """A stable choice among ``options`` using one byte of the seed."""
    return options[seed[slot % len(seed)] % len(options)]


def _turn(messages: list[dict[str, Any]]) -> int:
    """How many user messages the conversation has."""
    return sum(1 for m in messages if m.get("role") == "user")


def _system(messages: list[dict[str, Any]]) -> str:
    """The first system or developer prompt, or ""."""
    return next((message_text(m) for m in messages if m.get("role") in ("system", "developer")), "")


def _bullets(seed: bytes) -> list[str]:
    """Three distinct bullet points chosen by the seed."""
    start = seed[2] % len(_BULLETS)
    step = 1 + seed[3] % 3
    return [_BULLETS[(start + i * step) % len(_BULLETS)] for i in range(3)]


def image_lines(request: ChatRequest) -> list[str]:
    """One line per image that arrived, in order."""
    return [f"Image {n}: {image.describe()}." for n, image in enumerate(request.images, 1)]


def _markdown_answer(request: ChatRequest, prompt: str, seed: bytes) -> str:
    """The default Markdown answer, exercising headings, lists, code and emphasis."""
    lines = [f'### {_pick(_TITLES, seed, 0)} "{snippet(prompt)}"', ""]
    paragraph = _pick(_OPENERS, seed, 1).format(model=request.model)
    turn = _turn(request.messages)
    if turn > 1:
        paragraph += f" This is turn {turn} of our conversation."
    system = _system(request.messages)
    if system:
        paragraph += f' I am following your instructions: "{snippet(system)}".'
    lines += [paragraph, ""]
    if request.images:
        lines += [*image_lines(request), ""]
    lines += [f"- {bullet}" for bullet in _bullets(seed)]
    words = 3 + seed[4] % 5
    lines += [
        "",
        "```python",
        "def summarize(text: str) -> str:",
        f'    """Return the first {words} words of text."""',
        f"    return ' '.join(text.split()[:{words}])",
        "",
        "",
        f"print(summarize({snippet(prompt)!r}))",
        "```",
        "",
        _pick(_CLOSERS, seed, 5),
    ]
    return "\n".join(lines)


def _json_answer(request: ChatRequest, prompt: str, seed: bytes) -> str:
    """A JSON object in a ```json fence after a sentence, for ``response_format: json_object``."""
    answer: dict[str, Any] = {
        "model": request.model,
        "prompt": snippet(prompt),
        "answer": _pick(_CLOSERS, seed, 5),
        "points": _bullets(seed),
        "turn": _turn(request.messages),
    }
    if request.images:
        answer["images"] = image_lines(request)
    body = json.dumps(answer, indent=2, ensure_ascii=False)
    return f"Here is the JSON you asked for:\n\n```json\n{body}\n```"


def _reasoning(prompt: str, seed: bytes) -> str:
    """A few sentences of simulated thinking that mention the prompt."""
    sentences = [f'The user wrote: "{snippet(prompt)}".']
    sentences += [_pick(options, seed, 6 + i) for i, options in enumerate(_THOUGHTS)]
    sentences.append("Now I can write the answer.")
    return " ".join(sentences)


def _tool_results_answer(messages: list[dict[str, Any]], prompt: str) -> str:
    """One paragraph per tool message of the turn (``<name> returned: <content>``), then a sentence."""
    turn = current_turn(messages)
    names = {}
    for message in turn:
        for call in message.get("tool_calls") or ():
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                names[call.get("id")] = call["function"].get("name", "tool")
    results = [message for message in turn if message.get("role") == "tool"]
    lines = [
        f"{names.get(m.get('tool_call_id'), 'tool')} returned: {_flat(message_text(m))}" for m in results
    ]
    rounds = tool_rounds(turn)
    lines.append(
        f"Based on {_count(len(results), 'tool result')} from {_count(rounds, 'round')}, "
        f'that answers "{snippet(prompt)}".'
    )
    return "\n\n".join(lines)


def _flat(text: str) -> str:
    """``text`` on one line, cut to 200 characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= RESULT_CHARS else flat[:RESULT_CHARS].rstrip() + "…"


def _count(number: int, noun: str) -> str:
    """``"1 round"``, ``"2 rounds"``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"
