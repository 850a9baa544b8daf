"""The plain-Python grid runner: outcomes reported as they finish, in grid order at the end."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from fakes import answer

import heroku_magic.explore
from heroku_magic import APIError, ChatOptions, Event, OptionsError, Settings
from heroku_magic.client import HerokuClient
from heroku_magic.explore import (
    Configuration,
    ExploreResults,
    GridInterrupted,
    Outcome,
    configurations,
    parse_grid,
    run_grid,
)
from heroku_magic.magics.panel import PanelMagics
from heroku_magic.ratelimit import (
    BACKOFF_CAP,
    DEFAULT_CONCURRENCY,
    RATE_LIMIT_RETRIES,
    Backoff,
    ConcurrencyLimiter,
    retry_after_seconds,
)
from heroku_magic.simulator import Simulator


class GatedClient:
    """Answers temperature 0 only once ``gate`` is set; every other request at once."""

    def __init__(self) -> None:
        self.gate = threading.Event()

    def events(self, messages: Sequence[Mapping[str, Any]], options: ChatOptions) -> Iterator[Event]:
        if options.temperature == 0:
            self.gate.wait(timeout=10)
        for item in answer(f"t={options.temperature}"):
            assert not isinstance(item, Exception)
            yield item


def test_outcomes_are_reported_on_the_callers_thread_as_each_finishes() -> None:
    client = GatedClient()
    configs = configurations(ChatOptions(model="m"), parse_grid(["temperature=0,1"]))
    reported: list[tuple[int, str, bool]] = []

    def on_outcome(index: int, outcome: Outcome) -> None:
        reported.append((index, outcome.summary(), threading.current_thread() is threading.main_thread()))
        client.gate.set()  # the slow one may finish only after the fast one was reported

    results = run_grid("hi", configs, client, concurrency=2, on_outcome=on_outcome)
    assert [index for index, _, _ in reported] == [1, 0]
    assert all(on_main for _, _, on_main in reported)
    assert reported[0][1] == results[1].summary() and reported[0][1].startswith("temperature=1: ")
    assert [o.result.text for o in results if o.result] == ["t=0.0 ", "t=1.0 "]  # grid order


def test_summary_names_the_figures_or_the_error() -> None:
    [config] = configurations(ChatOptions(model="m"), parse_grid(["max_tokens=5"]))
    results = run_grid("hi", [config], GatedClient())
    line = results[0].summary()
    assert line.startswith("max_tokens=5: ") and " s · 1 tokens · stop" in line
    [refused] = configurations(ChatOptions(model="m", temperature=0.5), parse_grid(["thinking=1024"]))
    assert run_grid("hi", [refused], GatedClient())[0].summary().startswith("thinking=1024: error: ")


def test_a_grid_over_the_limit_is_refused_before_any_value_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    monkeypatch.setattr(heroku_magic.explore, "_value", lambda name, text: parsed.append(text))
    specs = ["max_tokens=" + ",".join(map(str, range(1, 1001))), "top_k=" + ",".join(map(str, range(1, 101)))]
    with pytest.raises(OptionsError) as info:
        parse_grid(specs, limit=64)
    assert str(info.value) == "the grid has 100000 configurations; at most 64 run at once"
    assert parsed == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("temperature=0,nan", "--grid temperature: temperature must be a finite number, got nan"),
        ("top_p=inf", "--grid top_p: top_p must be a finite number, got inf"),
        ("temperature=1.5", "--grid temperature: temperature must be from 0 to 1, got 1.5"),
        ("max_tokens=0", "--grid max_tokens: max_tokens must be at least 1, got 0"),
        ("model=a,,b", "--grid model: model must be a non-empty model id, got ''"),
        ("effort=low,", "--grid effort: reasoning effort must be one of low, medium, high, got ''"),
    ],
)
def test_a_value_no_request_may_carry_is_refused_when_the_grid_is_read(spec: str, message: str) -> None:
    with pytest.raises(OptionsError) as info:
        parse_grid([spec])
    assert str(info.value) == message


# --- concurrency and rate limits ---------------------------------------------------------------------

MODEL = "claude-4-5-sonnet"


def sim_client(sim: Simulator) -> HerokuClient:
    """A client of the simulator without the SDK's own retries: every 429 reaches the grid."""
    return HerokuClient(Settings(url=sim.url, key=sim.key, model_id=MODEL), max_retries=0)


def chat_bodies(sim: Simulator) -> list[dict[str, Any]]:
    return [r.body for r in sim.requests if r.path == "/v1/chat/completions" and r.body is not None]


def grid(size: int) -> list[Configuration]:
    return configurations(
        ChatOptions(), parse_grid(["max_tokens=" + ",".join(str(n) for n in range(1, size + 1))])
    )


class Recorder:
    """Records the waits the grid asks for and the retries it announces, without sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.retries: list[tuple[int, float]] = []

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        return False  # not stopped

    def on_retry(self, index: int, seconds: float) -> None:
        self.retries.append((index, seconds))


class Counting:
    """A fake client noting how many of its requests are in flight, and threads alive, at each start.

    The first ``limited`` requests wait at a barrier until that many are in flight, then fail with 429;
    with ``meet`` the others meet in groups of ``meet`` before they answer.
    """

    def __init__(self, limited: int = 0, meet: int = 0, limiter: ConcurrencyLimiter | None = None) -> None:
        self.limited = limited
        self.limiter = limiter
        self.lock = threading.Lock()
        self.calls = 0
        self.in_flight = 0
        self.started: list[tuple[int, int]] = []  # (requests in flight, the limiter's allowance)
        self.threads: list[int] = []
        self.limited_barrier = threading.Barrier(limited, timeout=10) if limited else None
        self.barrier = threading.Barrier(meet, timeout=10) if meet else None

    def events(self, messages: Sequence[Mapping[str, Any]], options: ChatOptions) -> Iterator[Event]:
        with self.lock:
            self.calls += 1
            number = self.calls
            self.in_flight += 1
            allowed = self.limiter.allowed if self.limiter else 0
            if number > self.limited:
                self.started.append((self.in_flight, allowed))
            self.threads.append(threading.active_count())
        try:
            if number <= self.limited:
                assert self.limited_barrier is not None
                self.limited_barrier.wait()  # BrokenBarrierError: fewer were ever in flight at once
                raise APIError("Rate limit exceeded", status=429)
            if self.barrier is not None:
                self.barrier.wait()
            for item in answer(f"n={options.max_tokens}"):
                assert not isinstance(item, Exception)
                yield item
        finally:
            with self.lock:
                self.in_flight -= 1

    @property
    def most_in_flight(self) -> int:
        return max(n for n, _ in self.started)


def test_the_default_sends_an_8_configuration_grid_as_one_wave() -> None:
    assert DEFAULT_CONCURRENCY >= 8
    assert PanelMagics.class_traits()["concurrency"].default_value == DEFAULT_CONCURRENCY
    client = Counting(meet=8)  # each request answers only once 8 are in flight
    results = run_grid("hi", grid(8), client)
    assert [o.error for o in results] == [None] * 8
    assert client.most_in_flight == 8


def test_a_big_grid_runs_on_a_bounded_number_of_threads() -> None:
    before = threading.active_count()
    client = Counting(meet=DEFAULT_CONCURRENCY)  # 64 configurations: 8 waves of 8
    results = run_grid("hi", grid(64), client)
    assert [o.error for o in results] == [None] * 64 and client.calls == 64
    assert client.most_in_flight == DEFAULT_CONCURRENCY
    # The pool's threads and nothing per configuration (2 spare for threads of other origin, such as
    # the simulator's, that may start meanwhile; a thread per configuration would be 64 more).
    assert max(client.threads) <= before + DEFAULT_CONCURRENCY + 2


def test_rate_limited_configurations_are_sent_again_until_they_succeed(simulator: Simulator) -> None:
    simulator.inject("rate_limit", times=3, retry_after="0.01")
    recorder = Recorder()
    results = run_grid(
        "echo: fine", grid(4), sim_client(simulator), on_retry=recorder.on_retry, wait=recorder.wait
    )
    assert [o.error for o in results] == [None] * 4
    assert [o.result.text for o in results if o.result] == ["fine"] * 4
    bodies = chat_bodies(simulator)
    assert len(bodies) == 4 + 3 and {b["max_tokens"] for b in bodies} == {1, 2, 3, 4}
    assert simulator.pending_faults() == []
    assert recorder.waits == [0.01] * 3  # Heroku's reset time, as the 429 gave it
    assert sorted(seconds for _, seconds in recorder.retries) == [0.01] * 3


def test_after_a_rate_limit_fewer_requests_are_in_flight_then_more_again() -> None:
    limiter = ConcurrencyLimiter(8)
    client = Counting(limited=8, limiter=limiter)  # the first wave, all 8 in flight, meets a 429
    recorder = Recorder()
    results = run_grid(
        "hi",
        grid(8),
        client,
        limiter=limiter,
        backoff=Backoff(jitter=lambda: 0.0),
        on_retry=recorder.on_retry,
        wait=recorder.wait,
    )
    assert [o.error for o in results] == [None] * 8 and client.calls == 16
    # Eight 429s of one episode halve the allowance once (8 -> 4), not eight times; requests of the
    # first wave still finishing count against it too.
    assert client.started[0][1] == 4
    assert all(in_flight <= allowed for in_flight, allowed in client.started)
    assert client.most_in_flight <= 5  # 4, then 5 after 4 successes (the next step needs 5 more)
    assert limiter.allowed == 5 and limiter.in_flight == 0
    assert sorted(index for index, _ in recorder.retries) == list(range(8))
    assert recorder.waits == [1.0] * 8  # no reset time given: the first backoff step, 2 s * [1/2, 1)


def test_a_configuration_still_rate_limited_after_the_last_retry_keeps_the_429(simulator: Simulator) -> None:
    simulator.inject("rate_limit", times=RATE_LIMIT_RETRIES + 2, retry_after="0.01")
    recorder = Recorder()
    [outcome] = run_grid("hi", grid(1), sim_client(simulator), on_retry=recorder.on_retry, wait=recorder.wait)
    assert outcome.error is not None and outcome.error.startswith("Heroku Inference error 429: ")
    assert len(chat_bodies(simulator)) == RATE_LIMIT_RETRIES + 1
    assert recorder.retries == [(0, 0.01)] * RATE_LIMIT_RETRIES
    assert simulator.pending_faults()[0]["times"] == 1


def test_other_errors_are_failures_at_once(simulator: Simulator) -> None:
    simulator.inject("server_error", status=503, message="Bedrock is busy")
    recorder = Recorder()
    [outcome] = run_grid("hi", grid(1), sim_client(simulator), on_retry=recorder.on_retry, wait=recorder.wait)
    assert outcome.error is not None and outcome.error.startswith(
        "Heroku Inference error 503: Bedrock is busy"
    )
    assert len(chat_bodies(simulator)) == 1 and recorder.retries == [] and recorder.waits == []


class WatchedStop(threading.Event):
    """A stop event noting how each wait on it ended: True when it was set, False when time ran out."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()
        self.woke: list[bool] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waiting.set()
        self.woke.append(super().wait(timeout))
        return self.woke[-1]


def test_an_interrupt_during_a_backoff_wait_ends_the_run_and_sends_nothing_more(simulator: Simulator) -> None:
    simulator.inject("rate_limit", retry_after="3600")
    stop = WatchedStop()
    recorder = Recorder()
    finished: list[ExploreResults] = []

    def run() -> None:
        client = sim_client(simulator)
        finished.append(run_grid("hi", grid(3), client, concurrency=1, stop=stop, on_retry=recorder.on_retry))

    runner = threading.Thread(target=run)
    runner.start()
    assert stop.waiting.wait(10)  # the default backoff wait is a wait on the stop event
    stop.set()
    runner.join(30)  # a safety net only: the wait itself would last a minute
    assert not runner.is_alive()
    assert stop.woke == [True]  # the wait ended because the stop event was set, not because time ran out
    assert recorder.retries == [(0, BACKOFF_CAP)]  # an hour's reset time is waited out for a minute at most
    [results] = finished
    assert [o.error for o in results] == ["interrupted"] * 3
    assert len(chat_bodies(simulator)) == 1


def test_a_keyboard_interrupt_ends_a_backoff_wait(simulator: Simulator) -> None:
    simulator.inject("rate_limit", retry_after="3600")
    stop = WatchedStop()

    def on_outcome(index: int, outcome: Outcome) -> None:
        assert stop.waiting.wait(10)  # the other configuration is waiting out its 429
        raise KeyboardInterrupt  # what Ctrl-C raises on the caller's thread

    with pytest.raises(GridInterrupted) as stopped:  # a KeyboardInterrupt, carrying the outcomes
        run_grid("hi", grid(2), sim_client(simulator), stop=stop, on_outcome=on_outcome)
    assert stop.is_set()
    assert stop.woke == [True]  # run_grid waited for its workers: this one woke as soon as stop was set
    assert len(chat_bodies(simulator)) == 2
    # The configuration that had answered is kept; the one waiting out its 429 is "interrupted".
    assert sorted(str(o.error) for o in stopped.value.results) == ["None", "interrupted"]
    assert [o.result is not None for o in stopped.value.results].count(True) == 1
    assert str(stopped.value) == "1 of 2 configurations had finished"


def test_a_worker_that_fails_after_an_interrupt_reports_its_error_not_interrupted(
    simulator: Simulator,
) -> None:
    simulator.config.interval = 0.02  # words:3000 streams for a minute; max_tokens=3 ends at once
    configs = configurations(ChatOptions(), parse_grid(["max_tokens=3,4000"]))
    stop = threading.Event()
    streaming = threading.Event()

    def on_event(index: int, event: Event) -> None:
        if index == 1:
            streaming.set()
            if stop.is_set():
                raise RuntimeError("a bug in a view")  # what a faulty on_event would do mid-stream

    def on_outcome(index: int, outcome: Outcome) -> None:
        assert streaming.wait(10)
        raise KeyboardInterrupt

    with pytest.raises(GridInterrupted) as stopped:
        run_grid(
            "words:3000", configs, sim_client(simulator), stop=stop, on_event=on_event, on_outcome=on_outcome
        )
    assert [o.error for o in stopped.value.results] == [None, "RuntimeError: a bug in a view"]
    assert str(stopped.value) == "2 of 2 configurations had finished"  # the failure is its outcome


@pytest.mark.parametrize(
    ("retry_after", "retry", "seconds"),
    [("7s", 1, 7.0), ("51s", 3, 51.0), ("3600", 1, BACKOFF_CAP), ("1m30s", 1, BACKOFF_CAP)],
)
def test_a_reset_time_from_heroku_is_waited_out_up_to_the_cap(
    retry_after: str, retry: int, seconds: float
) -> None:
    error = APIError("Rate limit exceeded", status=429, retry_after=retry_after)
    assert Backoff(jitter=lambda: 0.5).delay(retry, error) == seconds


def test_without_a_reset_time_the_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    error = APIError("Rate limit exceeded", status=429)
    low, high = Backoff(jitter=lambda: 0.0), Backoff(jitter=lambda: 1.0)
    assert [low.delay(n, error) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert [high.delay(n, error) for n in range(1, 7)] == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0]
    zero = APIError("Rate limit exceeded", status=429, retry_after="0s")
    assert low.delay(1, zero) == 1.0  # a reset time of 0 says nothing: back off all the same


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("7", 7.0),
        ("0.01s", 0.01),
        ("500ms", 0.5),
        ("1m30s", 90.0),
        ("soon", None),
        ("nan", None),
        (None, None),
    ],
)
def test_reset_times_are_read_in_heroku_s_forms(text: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(text) == seconds
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: now
