"""Parameter exploration: one prompt over a grid of settings, run concurrently, compared in a table.

Plain Python: the grid is parsed from ``name=v1,v2`` specs, every combination becomes a
:class:`Configuration` (or the one-line reason Heroku would reject it), and :func:`run_grid` sends
them with bounded concurrency, reporting each event to a callback so a view can stream every answer
into its own card. One failing configuration never stops the others, and one Heroku rate-limited
(HTTP 429) is sent again after a wait, with fewer requests in flight, rather than recorded as failed.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import APIError, Interrupted, OptionsError
from .events import ChatResult, Done, Error, Event
from .options import GRID_FIELDS, ChatOptions, Thinking, parse_effort
from .ratelimit import DEFAULT_CONCURRENCY, Backoff, ConcurrencyLimiter

if TYPE_CHECKING:
    from concurrent.futures import Future

    from .client import ChatClient

EventSink = Callable[[int, Event], None]
OutcomeSink = Callable[[int, "Outcome"], None]
RetrySink = Callable[[int, float], None]


@dataclass(frozen=True)
class Configuration:
    """One point of the grid: its settings, and the options to send (or why it cannot be sent)."""

    settings: dict[str, Any]
    options: ChatOptions | None
    problem: str | None = None

    @property
    def label(self) -> str:
        """The settings as ``name=value`` pairs."""
        return ", ".join(f"{k}={_show(v)}" for k, v in self.settings.items()) or "base options"


@dataclass(frozen=True)
class Outcome:
    """What one configuration produced: a result, an error, or both (a partial result)."""

    configuration: Configuration
    result: ChatResult | None
    error: str | None = None

    def summary(self) -> str:
        """One line: the settings, then the latency, tokens and finish reason, or the error."""
        if self.error is not None:
            return f"{self.configuration.label}: error: {self.error}"
        row = self.row()
        figures = [_seconds(row["latency_s"])]
        if row["completion_tokens"] is not None:
            figures.append(f"{row['completion_tokens']} tokens")
        if row["finish_reason"]:
            figures.append(row["finish_reason"])
        return f"{self.configuration.label}: " + " · ".join(f for f in figures if f)

    def row(self) -> dict[str, Any]:
        """A flat record for tables and DataFrames."""
        result = self.result
        usage = result.usage if result else None
        return {
            **self.configuration.settings,
            "latency_s": round(result.total_time, 3) if result else None,
            "ttft_s": round(result.time_to_first_token, 3)
            if result and result.time_to_first_token is not None
            else None,
            "prompt_tokens": usage.prompt_tokens if usage else None,
            "completion_tokens": usage.completion_tokens if usage else None,
            "reasoning_tokens": usage.reasoning_tokens if usage else None,
            "tokens_per_s": round(result.tokens_per_second, 1)
            if result and result.tokens_per_second
            else None,
            "finish_reason": result.finish_reason if result else None,
            "error": self.error,
            "text": result.text if result else "",
        }


class ExploreResults(list[Outcome]):
    """The outcomes of a grid run, in grid order; ``to_dataframe()`` when pandas is installed."""

    def rows(self) -> list[dict[str, Any]]:
        """One flat record per configuration (``pandas.DataFrame(results.rows())`` works too)."""
        return [outcome.row() for outcome in self]

    def to_dataframe(self) -> Any:
        """The rows as a pandas DataFrame (pandas is optional: install it to use this)."""
        try:
            import pandas
        except ImportError:
            raise ImportError(
                "to_dataframe() needs pandas: pip install pandas (rows() gives plain dicts)"
            ) from None
        return pandas.DataFrame(self.rows())

    def table_markdown(self) -> str:
        """The comparison table as Markdown (model text is not in it)."""
        columns = ["settings", "latency", "first token", "tokens", "tok/s", "finish"]
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for outcome in self:
            row = outcome.row()
            tokens = (
                ""
                if row["completion_tokens"] is None
                else f"{row['prompt_tokens']} → {row['completion_tokens']}"
            )
            cells = [
                outcome.configuration.label.replace("|", "\\|"),
                _seconds(row["latency_s"]),
                _seconds(row["ttft_s"]),
                tokens,
                "" if row["tokens_per_s"] is None else f"{row['tokens_per_s']:.0f}",
                "error" if outcome.error else (row["finish_reason"] or ""),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def chart_text(self, width: int = 30) -> str:
        """Bars of latency and tokens per second, one line per configuration."""
        rows = [o.row() for o in self]
        longest = max((len(o.configuration.label) for o in self), default=0)
        lines = []
        for title, key, unit in (("latency", "latency_s", "s"), ("tokens/s", "tokens_per_s", "")):
            values = [r[key] or 0.0 for r in rows]
            top = max(values, default=0.0) or 1.0
            lines.append(title)
            for outcome, value in zip(self, values, strict=True):
                bar = "█" * max(1 if value else 0, round(width * value / top))
                lines.append(f"  {outcome.configuration.label:<{longest}}  {bar} {value:g}{unit}")
        return "\n".join(lines)


def parse_grid(specs: Iterable[str], limit: int | None = None) -> dict[str, list[Any]]:
    """``["temperature=0,0.5", "model=a,b"]`` -> ``{"temperature": [0.0, 0.5], "model": ["a", "b"]}``.

    With ``limit``, a grid of more combinations is refused before any value is parsed or combined.
    """
    texts: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, raw = spec.partition("=")
        name = name.strip().replace("-", "_")
        if name == "reasoning_effort":
            name = "effort"
        if not sep or not raw.strip():
            raise OptionsError(f"--grid needs NAME=V1,V2,... (got {spec!r})")
        if name not in GRID_FIELDS:
            raise OptionsError(f"--grid {name}: not a setting to vary (use one of {', '.join(GRID_FIELDS)})")
        if name in texts:
            raise OptionsError(f"--grid {name} is given twice")
        texts[name] = [item.strip() for item in raw.split(",")]
    size = math.prod(len(items) for items in texts.values())
    if limit is not None and size > limit:
        raise OptionsError(f"the grid has {size} configurations; at most {limit} run at once")
    return {name: [_value(name, item) for item in items] for name, items in texts.items()}


def configurations(base: ChatOptions, grid: dict[str, list[Any]]) -> list[Configuration]:
    """Every combination of the grid over ``base``; invalid ones carry Heroku's reason."""
    names = list(grid)
    configs = []
    for values in itertools.product(*(grid[name] for name in names)) if names else [()]:
        settings = dict(zip(names, values, strict=True))
        changes = {("reasoning_effort" if k == "effort" else k): v for k, v in settings.items()}
        try:
            configs.append(Configuration(settings, base.updated(**changes)))
        except OptionsError as exc:
            configs.append(Configuration(settings, None, str(exc)))
    return configs


INTERRUPTED = "interrupted"  # the error of a configuration a stop left unfinished


class GridInterrupted(Interrupted):
    """Ctrl-C stopped a grid; ``results`` holds every configuration, those left unfinished as "interrupted"."""

    def __init__(self, results: ExploreResults) -> None:
        finished = sum(1 for outcome in results if outcome.error != INTERRUPTED)
        super().__init__(f"{finished} of {len(results)} configurations had finished")
        self.results = results


def run_grid(
    prompt: str,
    configs: Sequence[Configuration],
    client: ChatClient,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_event: EventSink | None = None,
    on_outcome: OutcomeSink | None = None,
    on_retry: RetrySink | None = None,
    stop: threading.Event | None = None,
    system: str | None = None,
    backoff: Backoff | None = None,
    limiter: ConcurrencyLimiter | None = None,
    wait: Callable[[float], bool] | None = None,
) -> ExploreResults:
    """Send ``prompt`` once per configuration, at most ``concurrency`` at a time, on as many threads.

    Callbacks, each given the configuration's index in ``configs``:

    ``on_event(index, event)``
        every event of a response but the final Done or Error, on a worker thread, as it arrives.
    ``on_outcome(index, outcome)``
        on the caller's thread, as each configuration ends.
    ``on_retry(index, seconds)``
        on a worker thread, when a configuration was rate-limited (HTTP 429, after the client's own
        retries) and will be sent again in ``seconds``. Events for ``index`` after it belong to the
        new attempt: a view should clear that configuration's card.

    Rate limits: the request's slot is given back to ``limiter`` (by default a
    :class:`ConcurrencyLimiter` of ``concurrency``, which then lets fewer requests in flight), the
    configuration waits as ``backoff`` says (default :class:`Backoff`), then is sent again; after
    ``backoff.retries`` waits the 429 is its outcome. Other errors are outcomes at once.

    Setting ``stop`` (an interrupt sets it) ends the run promptly: a response stops at its next event,
    a wait or a wait for a slot at once, and configurations not yet sent are not sent (their outcome
    is "interrupted"). A KeyboardInterrupt on the caller's thread does the same, then raises
    :class:`GridInterrupted` with the outcomes (nothing that had finished is lost).
    ``wait(seconds)`` waits out a backoff and says whether ``stop`` was set meanwhile (default
    ``stop.wait``; tests pass one that does not sleep). ``limiter`` may be shared
    between runs; given one, its ``limit`` sets the number of threads instead of ``concurrency``.
    """
    # on_event and on_retry are called on worker threads; on_outcome on the caller's thread.
    stop = stop or threading.Event()
    backoff = backoff or Backoff()
    limiter = limiter or ConcurrencyLimiter(concurrency)
    wait = wait or stop.wait

    def interrupted(config: Configuration) -> Outcome:
        return Outcome(config, None, INTERRUPTED)

    def attempt(index: int, config: Configuration, options: ChatOptions) -> tuple[Outcome, Exception | None]:
        # One response: its events folded, ending in Done or Error, the connection closed when the
        # loop stops early. (Imported here: loading the extension need not load the client.)
        from .respond import request_messages, respond

        chosen = system if options.system is None else options.system
        events = respond(client, request_messages(prompt, chosen), options)
        with closing(events):
            for event in events:
                if isinstance(event, Done):
                    return Outcome(config, event.result), None
                if isinstance(event, Error):
                    return Outcome(config, event.result, str(event.error)), event.error
                if on_event is not None:
                    on_event(index, event)
                if stop.is_set():
                    return interrupted(config), None
        return Outcome(config, None, "the response ended without a result"), None

    def one(index: int, config: Configuration) -> Outcome:
        if config.options is None:
            return Outcome(config, None, config.problem)
        retries = 0
        while True:
            ticket = limiter.acquire(stop)
            if ticket is None:
                return interrupted(config)
            try:
                outcome, error = attempt(index, config, config.options)
            except BaseException:
                limiter.release(ticket)
                raise
            limited = isinstance(error, APIError) and error.status == 429
            limiter.release(ticket, rate_limited=limited, succeeded=outcome.error is None)
            if not limited or retries >= backoff.retries or stop.is_set():
                return outcome
            retries += 1
            seconds = backoff.delay(retries, error if isinstance(error, APIError) else None)
            if on_retry is not None:
                on_retry(index, seconds)
            if wait(seconds) or stop.is_set():
                return interrupted(config)

    workers = max(1, min(limiter.limit, len(configs)))
    from concurrent.futures import ThreadPoolExecutor, as_completed  # on first use: %load_ext stays fast

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="heroku-explore") as pool:
        futures = {pool.submit(one, index, config): index for index, config in enumerate(configs)}
        outcomes: dict[int, Outcome] = {}
        try:
            for future in as_completed(futures):
                index = futures[future]
                outcomes[index] = future.result()
                if on_outcome is not None:
                    on_outcome(index, outcomes[index])
            return ExploreResults(outcomes[index] for index in range(len(configs)))
        except BaseException as exc:
            stop.set()  # an interrupt: let running requests close, skip the queued ones, end the waits
            limiter.wake()
            for future in futures:
                future.cancel()
            if not isinstance(exc, KeyboardInterrupt):
                raise
            pool.shutdown(wait=True)  # the running requests end at their next event
            # Every future is settled now (those already collected too); they are in submission order.
            kept = (
                _settled(future, config, interrupted) for future, config in zip(futures, configs, strict=True)
            )
            raise GridInterrupted(ExploreResults(kept)) from None


def _settled(
    future: Future[Outcome], config: Configuration, unfinished: Callable[[Configuration], Outcome]
) -> Outcome:
    """A worker's outcome once the pool has stopped: its own, its exception's, or ``unfinished``."""
    if not future.done() or future.cancelled():
        return unfinished(config)
    error = future.exception()
    if error is not None:  # a bug, not the interrupt: say so rather than hide it as "interrupted"
        return Outcome(config, None, f"{type(error).__name__}: {error}")
    return future.result()


def _value(name: str, text: str) -> Any:
    """One grid value, typed and checked on its own (a value no request may carry is refused here)."""
    try:
        value: Any = text
        if name in ("temperature", "top_p"):
            value = float(text)
        elif name in ("top_k", "max_tokens"):
            value = int(text)
        elif name == "thinking":
            value = None if text.lower() in ("off", "none", "0", "false") else Thinking(int(text))
        elif name == "effort":
            value = parse_effort(text)
        if name != "system":
            ChatOptions(**{("reasoning_effort" if name == "effort" else name): value})
        return value
    except OptionsError as exc:
        raise OptionsError(f"--grid {name}: {exc}") from None
    except ValueError:
        raise OptionsError(f"--grid {name}: {text!r} is not a valid value") from None


def _show(value: Any) -> str:
    if isinstance(value, Thinking):
        return str(value.budget_tokens)
    if isinstance(value, float):
        return f"{value:g}"  # as the user typed it: 0, not 0.0
    return "off" if value is None else str(value)


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.2f} s"
