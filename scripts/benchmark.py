#!/usr/bin/env python3
"""The 8 performance targets of ``heroku_magic``, measured in a real IPython kernel; one table.

It starts two of the project's simulators on 127.0.0.1 (one with no pacing, one with a time to first
token) and an IPython kernel (through ``jupyter_client``) whose environment points at both and
imports ``heroku_magic`` from this checkout; live widgets are forced on
(``%config HerokuMagics.widgets = True``, the default ``paint_interval``). Then it prints one table:
each figure, its target, pass or miss, and a final line saying how many targets are met.

1. kernel cost: wall time from the execute request to the kernel going idle, of
   ``%%heroku_chat --no-history`` over a cell of the same kernel that only iterates the same stream
   with the raw ``openai`` SDK, for two answer shapes of about 20,000 chunks: a long Markdown document
   (``markdown:N``) and one paragraph of about 130 kB (``words:N``). At most 1.05 on both.
2. first paint: the delay from the first chunk's arrival to the live view's first paint, as the view
   logs it (``heroku_magic.live``, DEBUG, "first paint %.6f s after the first token"); the median over
   the chat runs of #1. At most 20 ms; "n/a" while the view logs nothing.
3. frontend messages per second while streaming: every IOPub message the chat cell caused (comm,
   display, stream, ``status``, ``execute_input``...) over its kernel cost. At most 12/s.
4. frontend bytes (JSON content plus buffers of those messages) over the answer's UTF-8 bytes. At most
   3 for the Markdown shape, 5 for the paragraph.
5. ``%load_ext heroku_magic`` in fresh interpreters (IPython imported, a shell created and one built-in
   magic run first, not timed: IPython's first magic loads its completer, as a kernel does at start-up);
   the median. At most 60 ms.
6. an 8-configuration ``%%heroku_explore`` grid (default settings, widgets on) against the simulator
   with 1 s to first token, over one ``%%heroku_chat --no-history`` request to it, both after a
   warm-up grid (imports, connections). At most 1.3.
7. the most threads alive in the kernel while a 64-configuration grid runs: the same as while an
   8-configuration grid runs (sampled every 5 ms by a thread in the kernel, itself left out).
8. a long conversation (300 ``%%heroku_chat`` turns, answers of fixed size): the median time of the
   last 10 turns over the raw SDK sending the same history (``Conversation.messages``, built in a
   cell of its own beforehand), at most 1.1; the kernel's RSS growth (after ``gc.collect()``) per
   turn from turn 50 to the last, at most 5 KB.

Streaming runs alternate baseline and chat; figures are medians over ``--repeat`` runs. Every answer
is checked against the simulator's. The exit status is 0 whatever the figures: 1 only when something
breaks (the kernel, a simulator, a cell, a wrong answer), 2 for a bad command line or ``--chart``
without matplotlib. ``--quick`` is a small run for CI (2,000 chunks, one repeat, 40 turns; its short
answers make the few fixed messages of a cell weigh more in #3); ``--chart PATH`` also draws each
figure over its target into a PNG.

    python scripts/benchmark.py                       # a few minutes
    python scripts/benchmark.py --quick --chart /tmp/targets.png
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmark_kernel import (
    ROOT,
    Answer,
    BenchmarkError,
    Kernel,
    Run,
    checkout_env,
    median,
    reference_answer,
    simulator,
)
from benchmark_report import Row, chart, check_chart, machine, table
from benchmark_targets import (
    CHECK,
    PACED,
    SHORT,
    Checked,
    check,
    conversation_rows,
    explore_rows,
    load_ext_rows,
)

FULL_CHUNKS, QUICK_CHUNKS = 20_000, 2_000
FULL_REPEAT, QUICK_REPEAT = 3, 1
FULL_TURNS, QUICK_TURNS = 300, 40
FULL_LOADS, QUICK_LOADS = 7, 3
# Answer shapes: their prompt and the most frontend bytes per answer byte (#4).
SHAPES = {"markdown": ("markdown:{n}", 3.0), "paragraph": ("words:{n}", 5.0)}

SETUP = """\
%load_ext heroku_magic
%config HerokuMagics.widgets = True
import gc
import logging
import os
import threading

import openai
import heroku_magic

_bench_client = openai.OpenAI(
    base_url=os.environ["INFERENCE_URL"].rstrip("/") + "/v1", api_key=os.environ["INFERENCE_KEY"]
)
_bench_paints = []


class _BenchPaints(logging.Handler):
    def emit(self, record):
        if str(record.msg).startswith("first paint") and record.args:
            _bench_paints.append(float(record.args[0]))


def _bench_take_paints():
    taken = list(_bench_paints)
    _bench_paints.clear()
    return taken


_bench_logger = logging.getLogger("heroku_magic.live")
_bench_logger.setLevel(logging.DEBUG)
_bench_logger.propagate = False
_bench_logger.addHandler(_BenchPaints(logging.DEBUG))


class _BenchThreads:
    def start(self):
        self.peak = threading.active_count()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="bench-threads", daemon=True)
        self._thread.start()

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, threading.active_count() - 1)  # not the sampler itself

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peak


_bench_threads = _BenchThreads()


def _bench_rss():
    gc.collect()
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
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
PAINTS = {"paints": "_bench_take_paints()"}
INFO = {
    "module": "heroku_magic.__file__",
    "paint_interval": "get_ipython().magics_manager.registry['HerokuMagics'].paint_interval",
    "widgets": "get_ipython().magics_manager.registry['HerokuMagics'].widgets",
}


@dataclass
class Figures:
    """Every streaming run of one shape."""

    answer: Answer
    baseline: list[Run] = field(default_factory=list)
    chat: list[Run] = field(default_factory=list)


def measure(kernel: Kernel, prompt: str, answer: Answer, repeat: int, checked: Checked) -> Figures:
    """Alternate baseline and chat runs of ``prompt``; check each chat answer against ``answer``."""
    figures = Figures(answer)
    for _ in range(repeat):
        figures.baseline.append(kernel.timed(BASELINE.format(prompt=prompt)))
        figures.chat.append(kernel.timed(CHAT.format(prompt=prompt), PAINTS))
        check(kernel.execute("", CHECK), answer, f"%%heroku_chat {prompt}", checked)
    return figures


def streaming_rows(results: dict[str, Figures]) -> list[Row]:
    """Targets #1 to #4, from the streaming runs of every shape."""
    rows, rates, sizes = [], [], []
    paints: list[float] = []
    for name, figures in results.items():
        baseline = median([run.seconds for run in figures.baseline])
        chat = median([run.seconds for run in figures.chat])
        cpu = median([run.cpu for run in figures.chat]) / (median([run.cpu for run in figures.baseline]) or 1)
        rows.append(
            Row(
                1,
                f"kernel cost, {name}: chat with widgets / raw SDK",
                chat / baseline if baseline else None,
                1.05,
                detail=f"chat {chat:.3f} s, raw SDK {baseline:.3f} s; kernel CPU ratio {cpu:.2f}",
            )
        )
        messages = median([run.messages for run in figures.chat])
        comm_opens = median([run.comm_opens for run in figures.chat])
        views = median([run.views for run in figures.chat])
        rates.append(
            Row(
                3,
                f"frontend messages per second, {name}",
                median([run.messages / run.seconds for run in figures.chat if run.seconds > 0]),
                12,
                digits=1,
                detail=f"{messages:.0f} messages in {chat:.3f} s; {views:.0f} live view shown, "
                f"{comm_opens:.0f} widgets opened",
            )
        )
        size = median([run.size for run in figures.chat])
        sizes.append(
            Row(
                4,
                f"frontend bytes / answer bytes, {name}",
                size / max(1, figures.answer.size),
                SHAPES[name][1],
                detail=f"{size:.0f} bytes sent for {figures.answer.size}",
            )
        )
        paints += [seconds * 1000 for run in figures.chat for seconds in run.expressions["paints"]]
    runs = sum(len(figures.chat) for figures in results.values())
    if paints:
        note = f"median of {len(paints)} first paints in {runs} chat runs, {min(paints):.2f}-{max(paints):.2f} ms"
    else:
        note = f"no 'first paint' record on logger heroku_magic.live in {runs} chat runs (not logged yet)"
    rows.append(
        Row(
            2,
            "first chunk to first paint (ms)",
            median(paints) if paints else None,
            20,
            digits=2,
            detail=note,
        )
    )
    return rows + rates + sizes


def details(results: dict[str, Figures]) -> str:
    """Every streaming run's time, and the kinds of IOPub message the median chat run sent."""
    lines = []
    for name, figures in results.items():
        baseline = " ".join(f"{run.seconds:.3f}/{run.cpu:.3f}" for run in figures.baseline)
        chat = " ".join(f"{run.seconds:.3f}/{run.cpu:.3f}" for run in figures.chat)
        lines.append(f"{name}: runs, wall/CPU (s): raw SDK {baseline}; %%heroku_chat {chat}")
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
    parser.add_argument(
        "--quick", action="store_true", help="a small run for CI: 2,000 chunks, 1 repeat, 40 turns"
    )
    parser.add_argument("--chunks", type=int, help=f"chunks per streamed answer (default {FULL_CHUNKS})")
    parser.add_argument(
        "--repeat",
        type=int,
        help=f"runs per streaming and grid figure; medians are shown (default {FULL_REPEAT})",
    )
    parser.add_argument("--turns", type=int, help=f"turns of the long conversation (default {FULL_TURNS})")
    parser.add_argument("--chart", type=Path, metavar="PATH", help="also draw the figures into a PNG")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds one cell may take (default 600)"
    )
    args = parser.parse_args(argv)
    args.chunks = args.chunks or (QUICK_CHUNKS if args.quick else FULL_CHUNKS)
    args.repeat = args.repeat or (QUICK_REPEAT if args.quick else FULL_REPEAT)
    args.turns = args.turns or (QUICK_TURNS if args.quick else FULL_TURNS)
    args.loads = QUICK_LOADS if args.quick else FULL_LOADS
    if min(args.chunks, args.repeat, args.turns) < 1:
        parser.error("--chunks, --repeat and --turns must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Measure every target and print the table; 0 unless something broke."""
    args = parse_args(argv)
    if args.chart and (problem := check_chart()):
        print(f"benchmark: {problem}", file=sys.stderr)
        return 2
    began = time.perf_counter()
    checked = Checked()
    rows = load_ext_rows(args.loads)
    with simulator() as fast, simulator() as paced:
        inference = fast.env()
        short = reference_answer(inference, SHORT)
        answers = {
            name: reference_answer(inference, prompt.format(n=args.chunks))
            for name, (prompt, _) in SHAPES.items()
        }
        extra = {name.replace("INFERENCE", PACED, 1): value for name, value in paced.env().items()}
        kernel = Kernel(checkout_env({**inference, **extra}), args.timeout)
        try:
            kernel.execute(SETUP)
            info = kernel.execute("", INFO).expressions
            for prompt, _ in SHAPES.values():  # warm up: imports, widget classes, connection pools
                kernel.execute(BASELINE.format(prompt=prompt.format(n=50)))
                kernel.execute(CHAT.format(prompt=prompt.format(n=50)))
            results = {
                name: measure(kernel, prompt.format(n=args.chunks), answers[name], args.repeat, checked)
                for name, (prompt, _) in SHAPES.items()
            }
            rows = streaming_rows(results) + rows
            rows += explore_rows(kernel, paced, short, args.repeat, checked)
            rows += conversation_rows(kernel, short, args.turns, checked)
        finally:
            kernel.close()
    title = f"heroku_magic benchmark{' (--quick)' if args.quick else ''}"
    print(f"{title}: the 8 targets")
    print(f"machine: {machine()}")
    print(f"kernel imports heroku_magic from {info['module']} (commit {revision()})")
    print(
        f"widgets {info['widgets']}, paint_interval {info['paint_interval']} s; "
        + "; ".join(f"{name} {a.chunks} chunks, {a.size} bytes" for name, a in answers.items())
        + f"; median of {args.repeat} run(s); {args.turns} turns"
    )
    print()
    print(table(rows))
    print()
    print(details(results))
    print(f"answers checked: {checked.count}, every one identical to the simulator's")
    if args.chart:
        chart(rows, args.chart, title)
        print(f"chart written to {args.chart}")
    print(f"total time {time.perf_counter() - began:.1f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        sys.exit(1)
