"""The targets measured beside the streaming ones: extension load, exploration grids, long conversations.

Each function returns the table's `Row` objects for its targets (see ``scripts/benchmark.py``):

`load_ext_rows` (#5)
    ``%load_ext heroku_magic`` timed in fresh interpreters (this checkout, IPython imported first).
`explore_rows` (#6, #7)
    An 8-configuration ``%%heroku_explore`` grid against a simulator with 1 s to first token, over
    one ``%%heroku_chat --no-history`` request to it; then the most threads alive in the kernel while
    an 8- and a 64-configuration grid run (a sampler thread in the kernel, itself left out).
`conversation_rows` (#8)
    A conversation of many ``%%heroku_chat`` turns with fixed-size answers: the time of the last turns
    over the raw SDK sending the same history, and the kernel's memory growth per turn.

Every answer is checked against the simulator's; a mismatch is a `BenchmarkError`.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from benchmark_kernel import ROOT, Answer, BenchmarkError, Kernel, Run, checkout_env, median
from benchmark_report import Row

PACED = "INFERENCE_PACED"  # the kernel's attachment for the simulator with a time to first token
SHORT = "words:20"  # a short answer of fixed size: 20 one-word chunks
EXPLORE_TTFT, THREADS_TTFT = 1.0, 0.25
GRIDS = {
    8: "--grid temperature=0,0.25,0.5,1 --grid max_tokens=100,200",
    64: "--grid temperature=0,0.125,0.25,0.375,0.5,0.625,0.75,1 "
    "--grid max_tokens=100,200,300,400,500,600,700,800",
}
GRID = f"%%heroku_explore --addon {PACED} --out _bench_grid {{grid}}\n{SHORT}"
PACED_CHAT = f"%%heroku_chat --no-history --addon {PACED} --out _bench_result\n{SHORT}"
CHECK = {
    "sha256": "__import__('hashlib').sha256(_bench_result.text.encode()).hexdigest()",
    "interrupted": "_bench_result.interrupted",
}
GRID_CHECK = {
    "answers": "[(o.error, __import__('hashlib').sha256(o.result.text.encode()).hexdigest() "
    "if o.result else None) for o in _bench_grid]"
}
CONCURRENCY = {"concurrency": "get_ipython().magics_manager.registry['PanelMagics'].concurrency"}
TURN = "%%heroku_chat -c _bench_turns{new} --out _bench_result\nturn {number}: " + SHORT
TURN_MESSAGES = (
    "_bench_messages = heroku_magic.current_session().conversation('_bench_turns').messages({prompt!r})"
)
TURN_BASELINE = """\
for _bench_chunk in _bench_client.chat.completions.create(
    model=os.environ["INFERENCE_MODEL_ID"],
    messages=_bench_messages,
    stream=True,
    stream_options={"include_usage": True},
):
    pass
"""
TURNS_KEPT = {"turns": "len(heroku_magic.current_session().conversation('_bench_turns').turns)"}
RSS = {"rss": "_bench_rss()"}
LOAD_EXT = """\
import time
from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()
# IPython's first magic loads its completer and inspector (~50 ms, in a kernel done at start-up):
# IPython's cost, not the extension's, so a built-in magic runs first, untimed.
shell.run_line_magic("pwd", "")
started = time.perf_counter()
shell.run_line_magic("load_ext", "heroku_magic")
elapsed = time.perf_counter() - started
import heroku_magic

print(elapsed, "heroku_chat" in shell.magics_manager.magics["cell"])
print(heroku_magic.__file__)
"""


@dataclass
class Checked:
    """How many answers were compared with the simulator's (all matched, or we would have stopped)."""

    count: int = 0


def check(run: Run, answer: Answer, what: str, checked: Checked) -> None:
    """The ``--out _bench_result`` answer of ``run`` (CHECK expressions) must be the simulator's."""
    if run.expressions["sha256"] != answer.sha256 or run.expressions["interrupted"]:
        raise BenchmarkError(f"the answer to {what} is not the simulator's")
    checked.count += 1


def check_grid(run: Run, size: int, answer: Answer, checked: Checked) -> None:
    """Every configuration of a grid (GRID_CHECK expressions) must have the simulator's answer."""
    answers = run.expressions["answers"]
    wrong = [(error, sha) for error, sha in answers if error or sha != answer.sha256]
    if len(answers) != size or wrong:
        raise BenchmarkError(f"a {size}-configuration grid got {len(answers)} answers; wrong: {wrong[:3]}")
    checked.count += size


def load_ext_rows(runs: int) -> list[Row]:
    """#5: ``%load_ext heroku_magic`` in ``runs`` fresh interpreters (after one untimed to warm caches)."""
    times = []
    for index in range(runs + 1):
        done = subprocess.run(
            [sys.executable, "-c", LOAD_EXT],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=str(ROOT),
            env=checkout_env({}),
        )
        lines = done.stdout.split("\n")
        if done.returncode != 0 or len(lines) < 2 or lines[0].split()[1:] != ["True"]:
            raise BenchmarkError(
                f"%load_ext heroku_magic failed in a fresh interpreter:\n{done.stderr[-2000:]}"
            )
        if lines[1].strip() != str(ROOT / "heroku_magic" / "__init__.py"):
            raise BenchmarkError(
                f"a fresh interpreter imported heroku_magic from {lines[1]}, not this checkout"
            )
        if index:
            times.append(float(lines[0].split()[0]) * 1000)
    return [
        Row(
            5,
            "%load_ext heroku_magic, fresh interpreter (ms)",
            median(times),
            60,
            digits=1,
            detail=f"median of {runs} runs, {min(times):.1f}-{max(times):.1f} ms; IPython loaded and warm first",
        )
    ]


def explore_rows(kernel: Kernel, paced: Any, answer: Answer, repeat: int, checked: Checked) -> list[Row]:
    """#6 and #7 against the paced simulator (``paced``: its time to first token is set here)."""
    concurrency = kernel.execute("", CONCURRENCY).expressions["concurrency"]
    paced.config.ttft = THREADS_TTFT
    kernel.execute(PACED_CHAT)  # warm up: the connection to this simulator, what a grid imports
    kernel.execute(GRID.format(grid=GRIDS[8]))
    paced.config.ttft = EXPLORE_TTFT
    chats, grids = [], []
    for _ in range(repeat):
        chats.append(kernel.execute(PACED_CHAT, CHECK))
        check(chats[-1], answer, "%%heroku_chat (1 s to first token)", checked)
        grids.append(kernel.execute(GRID.format(grid=GRIDS[8]), GRID_CHECK))
        check_grid(grids[-1], 8, answer, checked)
    chat, grid = median([run.seconds for run in chats]), median([run.seconds for run in grids])
    rows = [
        Row(
            6,
            "8-config explore grid / one chat, 1 s to first token",
            grid / chat if chat else None,
            1.3,
            detail=f"grid {grid:.3f} s, chat {chat:.3f} s, median of {repeat}; "
            f"default concurrency {concurrency}",
        )
    ]
    paced.config.ttft = THREADS_TTFT
    idle = kernel.execute("", {"threads": "__import__('threading').active_count()"}).expressions["threads"]
    peaks = {}
    for size, spec in GRIDS.items():
        kernel.execute("_bench_threads.start()")
        check_grid(kernel.execute(GRID.format(grid=spec), GRID_CHECK), size, answer, checked)
        peaks[size] = kernel.execute("", {"peak": "_bench_threads.stop()"}).expressions["peak"]
    rows.append(
        Row(
            7,
            "threads alive, 64-config grid (target: as in an 8-config grid)",
            peaks[64],
            peaks[8],
            op="==",
            digits=0,
            detail=f"most threads alive: 8-config grid {peaks[8]}, 64-config grid {peaks[64]}, "
            f"idle kernel {idle}; {THREADS_TTFT:g} s to first token",
        )
    )
    return rows


def conversation_rows(kernel: Kernel, answer: Answer, turns: int, checked: Checked) -> list[Row]:
    """#8: ``turns`` turns of one conversation; the raw SDK with the same history beside the last ten."""
    early, tail = min(50, max(1, turns // 4)), min(10, turns)
    chats: list[Run] = []
    baselines: list[Run] = []
    rss: dict[int, int] = {}
    for number in range(1, turns + 1):
        cell = TURN.format(new=" --new" if number == 1 else "", number=number)
        if number > turns - tail:
            kernel.execute(TURN_MESSAGES.format(prompt=f"turn {number}: {SHORT}"))
            baselines.append(kernel.timed(TURN_BASELINE))
            chats.append(kernel.timed(cell))
            run = kernel.execute("", CHECK)
        else:
            run = kernel.execute(cell, CHECK)
        check(run, answer, f"turn {number} of the conversation", checked)
        if number in (early, turns):
            rss[number] = kernel.execute("_bench_messages = None", RSS).expressions["rss"]
    kept = kernel.execute("", TURNS_KEPT).expressions["turns"]
    if kept != turns:
        raise BenchmarkError(f"the conversation kept {kept} turns, not {turns}")
    chat, baseline = median([run.seconds for run in chats]), median([run.seconds for run in baselines])
    cpu = median([run.cpu for run in chats]) / (median([run.cpu for run in baselines]) or 1)
    growth = (rss[turns] - rss[early]) / max(1, turns - early) / 1024
    messages = median([run.messages for run in chats])
    return [
        Row(
            8,
            "last turns of a long conversation: chat / raw SDK, same history",
            chat / baseline if baseline else None,
            1.1,
            detail=f"chat {chat * 1000:.1f} ms, raw SDK {baseline * 1000:.1f} ms, median of turns "
            f"{turns - tail + 1}-{turns}; kernel CPU ratio {cpu:.2f}; {messages:.0f} IOPub messages a turn",
        ),
        Row(
            8,
            "kernel memory growth per turn (KB)",
            growth,
            5,
            digits=1,
            detail=f"RSS {rss[early] / 2**20:.1f} MB after turn {early}, "
            f"{rss[turns] / 2**20:.1f} MB after turn {turns}",
        ),
    ]
