#!/usr/bin/env python3
"""Streaming figures of the live view: ``%%heroku_chat`` with widgets, in a real IPython kernel.

It starts the project's simulator on 127.0.0.1 with no pacing, and an IPython kernel (through
``jupyter_client``) whose environment points at it and imports ``heroku_magic`` from this checkout.
Then it streams two answer shapes of about 20,000 chunks each: a long Markdown document
(``markdown:N``: paragraphs of about 60 words, a list, a 150-line code block) and a single paragraph
of about 130 kB (``words:N``). For each shape it prints:

kernel cost
    Wall time from sending the execute request to the kernel going idle, for
    ``%%heroku_chat --no-history`` with live widgets forced on (``%config HerokuMagics.widgets = True``,
    the default ``paint_interval``), and for a baseline cell in the same kernel that only iterates the
    same stream with the raw ``openai`` SDK; and their ratio. The kernel's CPU time for each (all its
    threads) is shown too: it is steadier than wall time on a busy machine.
frontend messages per second
    The IOPub messages the kernel sends while the ``%%heroku_chat`` cell runs (all but ``status`` and
    ``execute_input``: comm messages, display data, streams...) over its kernel cost; also how many there
    are, and how many are ``comm_open`` (widgets created).
frontend bytes over answer bytes
    The size of those messages (JSON-encoded ``content`` plus binary buffers) over the answer's size
    in UTF-8 bytes.

Baseline and chat runs alternate; each figure is the median over ``--repeat`` runs. Every answer the
magic receives is checked against the simulator's. ``--quick`` is a small run (2,000 chunks, one
repeat) for CI: it fails only when something breaks, never because of a figure.

    python scripts/benchmark.py              # about 20,000 chunks per answer, 3 repeats
    python scripts/benchmark.py --quick
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import platform
import queue
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FULL_CHUNKS, QUICK_CHUNKS = 20_000, 2_000
FULL_REPEAT, QUICK_REPEAT = 3, 1
IGNORED = frozenset({"status", "execute_input"})  # kernel bookkeeping, not something a view shows
SHAPES = (("markdown", "markdown:{n}"), ("paragraph", "words:{n}"))

SETUP = """\
%load_ext heroku_magic
%config HerokuMagics.widgets = True
import os
import openai
import heroku_magic

_bench_client = openai.OpenAI(
    base_url=os.environ["INFERENCE_URL"].rstrip("/") + "/v1", api_key=os.environ["INFERENCE_KEY"]
)
"""
BASELINE = """\
for _bench_chunk in _bench_client.chat.completions.create(
    model=os.environ["INFERENCE_MODEL_ID"],
    messages=[{{"role": "user", "content": {prompt!r}}}],
    stream=True,
    stream_options={{"include_usage": True}},
):
    pass
"""
CHAT = "%%heroku_chat --no-history --out _bench_result\n{prompt}"
CPU = {"cpu": "__import__('time').process_time()"}  # the kernel's CPU time, all its threads
CHECK = {
    "sha256": "__import__('hashlib').sha256(_bench_result.text.encode()).hexdigest()",
    "interrupted": "_bench_result.interrupted",
}
INFO = {
    "module": "heroku_magic.__file__",
    "paint_interval": "get_ipython().magics_manager.registry['HerokuMagics'].paint_interval",
    "widgets": "get_ipython().magics_manager.registry['HerokuMagics'].widgets",
}


class BenchmarkError(Exception):
    """Something broke: the kernel, the simulator or a cell (never a figure being high)."""


@dataclass
class Run:
    """What one cell cost: its time to idle and the IOPub messages it caused."""

    seconds: float
    cpu: float = 0.0
    messages: int = 0
    comm_opens: int = 0
    size: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    expressions: dict[str, Any] = field(default_factory=dict)  # user_expressions, as Python values


@dataclass
class Answer:
    """The answer the simulator gives to a prompt, as the raw SDK streams it."""

    chunks: int
    size: int
    sha256: str


@dataclass
class Figures:
    """Every run of one shape."""

    answer: Answer
    baseline: list[Run] = field(default_factory=list)
    chat: list[Run] = field(default_factory=list)


def message_size(message: dict[str, Any]) -> int:
    """Bytes of a message's JSON-encoded content plus its buffers."""
    content = json.dumps(message["content"], ensure_ascii=False, default=str).encode()
    return len(content) + sum(memoryview(buffer).nbytes for buffer in message.get("buffers") or ())


def timestamp(value: Any) -> float:
    """Seconds since the epoch of a message header's ``date`` (a datetime or an ISO string)."""
    moment = (
        value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    )
    return moment.timestamp()


class Kernel:
    """An IPython kernel started with jupyter_client, driven one cell at a time."""

    def __init__(self, env: dict[str, str], timeout: float) -> None:
        """Start the kernel with ``env`` and wait until it answers."""
        import zmq
        from jupyter_client.manager import KernelManager

        self.timeout = timeout
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(env=env, cwd=str(ROOT))
        self.client = self.manager.client()
        # No high-water mark on our IOPub socket: a burst must queue here, not be dropped unseen.
        self.client.context.setsockopt(zmq.RCVHWM, 0)
        self.client.start_channels()
        try:
            self.client.wait_for_ready(timeout=60)
        except RuntimeError as exc:
            self.close()
            raise BenchmarkError(f"the kernel did not start: {exc}") from None

    def execute(self, code: str, expressions: dict[str, str] | None = None) -> Run:
        """Run ``code``; its time to idle and the IOPub messages seen meanwhile."""
        self._drain()
        deadline = time.monotonic() + self.timeout
        started = time.time()
        msg_id = self.client.execute(
            code, store_history=False, user_expressions=expressions or {}, allow_stdin=False
        )
        run = Run(seconds=0.0)
        while True:
            message = self._next(self.client.get_iopub_msg, deadline, code)
            kind = message["msg_type"]
            if kind == "status":
                mine = message["parent_header"].get("msg_id") == msg_id
                if mine and message["content"]["execution_state"] == "idle":
                    run.seconds = timestamp(message["header"]["date"]) - started
                    break
            if kind in IGNORED:
                continue
            run.messages += 1
            run.comm_opens += kind == "comm_open"
            run.size += message_size(message)
            run.kinds[kind] += 1
        while True:
            reply = self._next(self.client.get_shell_msg, deadline, code)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        content = reply["content"]
        if content["status"] != "ok":
            raise BenchmarkError(
                f"the cell failed: {content.get('ename')}: {content.get('evalue')}\n{_shorten(code)}"
            )
        for name, value in content.get("user_expressions", {}).items():
            if value.get("status") != "ok":
                raise BenchmarkError(f"{name} = {expressions and expressions[name]} failed: {value}")
            run.expressions[name] = ast.literal_eval(value["data"]["text/plain"])
        return run

    def timed(self, code: str) -> Run:
        """Run ``code`` as `execute` does, and also measure the kernel's CPU time for it."""
        before = float(self.execute("", CPU).expressions["cpu"])
        run = self.execute(code, CPU)
        run.cpu = float(run.expressions["cpu"]) - before
        return run

    def _next(self, receive: Callable[..., dict[str, Any]], deadline: float, code: str) -> dict[str, Any]:
        """The next message from ``receive``; a BenchmarkError if the kernel dies or the deadline passes."""
        while time.monotonic() < deadline:
            try:
                return receive(timeout=min(1.0, max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                if not self.manager.is_alive():
                    raise BenchmarkError(f"the kernel died running:\n{_shorten(code)}") from None
        raise BenchmarkError(f"no answer within {self.timeout:.0f} s to:\n{_shorten(code)}")

    def _drain(self) -> None:
        """Drop IOPub messages left over from earlier cells."""
        while True:
            try:
                self.client.get_iopub_msg(timeout=0.05)
            except queue.Empty:
                return

    def close(self) -> None:
        """Stop the channels and shut the kernel down."""
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def _shorten(code: str) -> str:
    """A cell's source for a message, cut to a few hundred characters."""
    return code if len(code) <= 300 else code[:300] + "…"


@contextmanager
def simulator() -> Iterator[dict[str, str]]:
    """The project's simulator on 127.0.0.1 with no pacing; yields its ``INFERENCE_*`` variables."""
    sys.path.insert(0, str(ROOT))
    from heroku_magic.simulator import Simulator, SimulatorConfig

    sim = Simulator(SimulatorConfig(port=0, ttft=0, interval=0)).start()
    try:
        yield sim.env()
    finally:
        sim.stop()


def kernel_env(inference: dict[str, str]) -> dict[str, str]:
    """The kernel's environment: ours, the simulator's variables, this checkout first on the path."""
    env = dict(os.environ, **inference)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    local = "127.0.0.1,localhost"
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = f"{env[name]},{local}" if env.get(name) else local
    return env


def reference_answer(inference: dict[str, str], prompt: str) -> Answer:
    """Stream ``prompt`` once here with the raw SDK: the answer every run must reproduce."""
    import openai

    client = openai.OpenAI(base_url=inference["INFERENCE_URL"] + "/v1", api_key=inference["INFERENCE_KEY"])
    stream = client.chat.completions.create(
        model=inference["INFERENCE_MODEL_ID"],
        messages=[{"role": "user", "content": prompt}],
        stream=True,
    )
    pieces = [chunk.choices[0].delta.content for chunk in stream if chunk.choices]
    text = "".join(piece for piece in pieces if piece)
    data = text.encode()
    return Answer(sum(1 for piece in pieces if piece), len(data), hashlib.sha256(data).hexdigest())


def measure(kernel: Kernel, prompt: str, answer: Answer, repeat: int) -> Figures:
    """Alternate baseline and chat runs of ``prompt``; check each chat answer against ``answer``."""
    figures = Figures(answer)
    for _ in range(repeat):
        figures.baseline.append(kernel.timed(BASELINE.format(prompt=prompt)))
        chat = kernel.timed(CHAT.format(prompt=prompt))
        check = kernel.execute("", CHECK).expressions
        if check["sha256"] != answer.sha256 or check["interrupted"]:
            raise BenchmarkError(f"the answer %%heroku_chat received for {prompt!r} is not the simulator's")
        figures.chat.append(chat)
    return figures


def median(values: list[float]) -> float:
    """The median (0 for no values)."""
    return statistics.median(values) if values else 0.0


def rows(figures: Figures) -> list[tuple[str, str]]:
    """The table's rows for one shape: (label, formatted value)."""
    baseline = median([run.seconds for run in figures.baseline])
    chat = median([run.seconds for run in figures.chat])
    baseline_cpu = median([run.cpu for run in figures.baseline])
    chat_cpu = median([run.cpu for run in figures.chat])
    answer = figures.answer
    return [
        ("answer chunks", f"{answer.chunks}"),
        ("answer bytes", f"{answer.size}"),
        ("baseline: raw openai SDK loop (s)", f"{baseline:.3f}"),
        ("%%heroku_chat with widgets (s)", f"{chat:.3f}"),
        ("kernel cost ratio (chat / baseline)", f"{chat / baseline if baseline else 0.0:.2f}"),
        ("baseline kernel CPU (s)", f"{baseline_cpu:.3f}"),
        ("%%heroku_chat kernel CPU (s)", f"{chat_cpu:.3f}"),
        ("kernel CPU ratio (chat / baseline)", f"{chat_cpu / baseline_cpu if baseline_cpu else 0.0:.2f}"),
        ("frontend messages", f"{median([run.messages for run in figures.chat]):.0f}"),
        ("comm_open (widgets created)", f"{median([run.comm_opens for run in figures.chat]):.0f}"),
        (
            "frontend messages per second",
            f"{median([run.messages / run.seconds for run in figures.chat if run.seconds > 0]):.1f}",
        ),
        ("frontend bytes", f"{median([run.size for run in figures.chat]):.0f}"),
        (
            "frontend bytes / answer bytes",
            f"{median([run.size for run in figures.chat]) / max(1, answer.size):.2f}",
        ),
    ]


def table(results: dict[str, Figures]) -> str:
    """The figures of every shape as a plain-text table, one column per shape."""
    columns = {name: dict(rows(figures)) for name, figures in results.items()}
    labels = [label for label, _ in rows(next(iter(results.values())))]
    width = max(len(label) for label in labels) + 2
    lines = ["figure".ljust(width) + "".join(f"{name:>14}" for name in columns)]
    lines += [
        label.ljust(width) + "".join(f"{column[label]:>14}" for column in columns.values())
        for label in labels
    ]
    return "\n".join(lines)


def details(results: dict[str, Figures]) -> str:
    """Every run's time, and the kinds of IOPub message the median chat run sent."""
    lines = []
    for name, figures in results.items():
        baseline = " ".join(f"{run.seconds:.3f}/{run.cpu:.3f}" for run in figures.baseline)
        chat = " ".join(f"{run.seconds:.3f}/{run.cpu:.3f}" for run in figures.chat)
        lines.append(f"{name}: runs, wall/CPU (s): baseline {baseline}; %%heroku_chat {chat}")
        middle = sorted(figures.chat, key=lambda run: run.seconds)[len(figures.chat) // 2]
        kinds = ", ".join(f"{kind} {count}" for kind, count in middle.kinds.most_common())
        lines.append(f"{name}: IOPub messages of the median chat run: {kinds or 'none'}")
    return "\n".join(lines)


def revision() -> str:
    """This checkout's commit, marked when files differ from it (or "unknown" outside git)."""
    try:
        found = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty=+uncommitted changes", "--abbrev=10"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return found.stdout.strip().replace("+", " + ", 1) if found.returncode == 0 else "unknown"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a small run for CI: 2,000 chunks, 1 repeat")
    parser.add_argument("--chunks", type=int, help=f"chunks per answer (default {FULL_CHUNKS})")
    parser.add_argument(
        "--repeat", type=int, help=f"runs per measurement; medians are shown (default {FULL_REPEAT})"
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds one cell may take (default 600)"
    )
    args = parser.parse_args(argv)
    args.chunks = args.chunks or (QUICK_CHUNKS if args.quick else FULL_CHUNKS)
    args.repeat = args.repeat or (QUICK_REPEAT if args.quick else FULL_REPEAT)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table; 0 unless something broke."""
    args = parse_args(argv)
    began = time.perf_counter()
    with simulator() as inference:
        answers = {name: reference_answer(inference, prompt.format(n=args.chunks)) for name, prompt in SHAPES}
        kernel = Kernel(kernel_env(inference), args.timeout)
        try:
            kernel.execute(SETUP)
            info = kernel.execute("", INFO).expressions
            for _, prompt in SHAPES:  # warm up: imports, widget classes, connection pools
                kernel.execute(BASELINE.format(prompt=prompt.format(n=50)))
                kernel.execute(CHAT.format(prompt=prompt.format(n=50)))
            results = {
                name: measure(kernel, prompt.format(n=args.chunks), answers[name], args.repeat)
                for name, prompt in SHAPES
            }
        finally:
            kernel.close()
    print(f"heroku_magic streaming benchmark{' (--quick)' if args.quick else ''}")
    print(f"kernel imports heroku_magic from {info['module']} (commit {revision()})")
    print(
        f"{args.chunks} chunks per answer, no pacing; median of {args.repeat} run(s); "
        f"widgets {info['widgets']}, paint_interval {info['paint_interval']} s"
    )
    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print()
    print(table(results))
    print()
    print(details(results))
    print(f"\ntotal time {time.perf_counter() - began:.1f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        sys.exit(1)
