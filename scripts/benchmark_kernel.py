"""The benchmark's plumbing: simulators, an IPython kernel driven cell by cell, and what a cell cost.

`Kernel` starts an IPython kernel through ``jupyter_client`` and runs one cell at a time; each cell
gives a `Run`: its wall time from the execute request to the kernel going idle, and every IOPub
message the kernel sent meanwhile (kernel ``status`` and ``execute_input`` included: a frontend
receives those too). `simulator` runs the project's simulator in this process; `reference_answer`
streams a prompt once with the raw SDK, giving the answer every run must reproduce.
Used by ``scripts/benchmark.py``; nothing here prints.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import queue
import statistics
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
CPU = {"cpu": "__import__('time').process_time()"}  # the kernel's CPU time, all its threads
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class BenchmarkError(Exception):
    """Something broke: the kernel, the simulator or a cell (never a figure being high)."""


@dataclass
class Run:
    """What one cell cost: its time to idle and the IOPub messages it caused."""

    seconds: float
    cpu: float = 0.0
    messages: int = 0
    comm_opens: int = 0
    views: int = 0  # live views displayed (widget-view outputs naming a model)
    size: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    expressions: dict[str, Any] = field(default_factory=dict)  # user_expressions, as Python values


@dataclass
class Answer:
    """The answer the simulator gives to a prompt, as the raw SDK streams it."""

    chunks: int
    size: int
    sha256: str


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
        """Run ``code``; its time to idle and every IOPub message seen meanwhile (the final idle too)."""
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
            run.messages += 1
            run.comm_opens += kind == "comm_open"
            run.views += kind == "display_data" and bool(
                message["content"]["data"].get(WIDGET_VIEW, {}).get("model_id")
            )
            run.size += message_size(message)
            run.kinds[kind] += 1
            mine = message["parent_header"].get("msg_id") == msg_id
            if kind == "status" and mine and message["content"]["execution_state"] == "idle":
                run.seconds = timestamp(message["header"]["date"]) - started
                break
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

    def timed(self, code: str, expressions: dict[str, str] | None = None) -> Run:
        """Run ``code`` as `execute` does, and also measure the kernel's CPU time for it.

        ``expressions`` are evaluated just before the cell (in an empty cell of their own) and after
        it; ``run.expressions`` holds the values after it.
        """
        both = {**CPU, **(expressions or {})}
        before = float(self.execute("", both).expressions["cpu"])
        run = self.execute(code, both)
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
def simulator(ttft: float = 0.0) -> Iterator[Any]:
    """The project's simulator on 127.0.0.1, no pacing between chunks; yields the running `Simulator`.

    ``sim.config.ttft`` may be changed while it runs; ``sim.env()`` gives its ``INFERENCE_*`` variables.
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from heroku_magic.simulator import Simulator, SimulatorConfig

    sim = Simulator(SimulatorConfig(port=0, ttft=ttft, interval=0)).start()
    try:
        yield sim
    finally:
        sim.stop()


def checkout_env(extra: dict[str, str]) -> dict[str, str]:
    """Our environment plus ``extra``, this checkout first on the path, no proxy for the simulators."""
    env = dict(os.environ, **extra)
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


def median(values: list[float]) -> float:
    """The median (0 for no values)."""
    return statistics.median(values) if values else 0.0
