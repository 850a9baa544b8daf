"""Tools: schema and argument checking from signatures, the registry, and running a step's calls."""

from __future__ import annotations

import _thread
import asyncio
import contextlib
import dataclasses
import enum
import functools
import json
import subprocess
import sys
import threading
import types
from collections.abc import Iterator
from typing import Annotated, Any, Literal, Optional

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from heroku_magic.events import ToolCall, ToolResult
from heroku_magic.tool_runner import DEFAULT_RESULT_LIMIT, result_text, run_calls
from heroku_magic.tools import REGISTRY, Tool, ToolArgumentsError, ToolRegistry, as_tool, tool

EVENT_WAIT = 10.0  # generous: a bug fails the test after this long instead of hanging it


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


@dataclasses.dataclass
class Point:
    lat: float
    lon: float


class Filters(BaseModel):
    """What to leave out."""

    max_results: int = Field(default=5, ge=1)
    keywords: list[str] = []


GOOGLE = """Forecast the weather.

Uses the nearest station.

Args:
    city: The city to forecast.
    days: How many days
        ahead.
    unit: Temperature unit.
    near: A point to forecast instead.
    filters: What to leave out.
    hours: Hours of the day to include.
    detail: How much to say.
    note: A free-form note.
"""

NUMPY = """Forecast the weather.

Uses the nearest station.

Parameters
----------
city : str
    The city to forecast.
days : int
    How many days
    ahead.
unit : Unit
    Temperature unit.
near : Point, optional
    A point to forecast instead.
filters : Filters, optional
    What to leave out.
hours : list of int
    Hours of the day to include.
detail : str
    How much to say.
note : str
    A free-form note.
"""

SPHINX = """Forecast the weather.

Uses the nearest station.

:param city: The city to forecast.
:param days: How many days
    ahead.
:param unit: Temperature unit.
:param near: A point to forecast instead.
:param filters: What to leave out.
:param hours: Hours of the day to include.
:param detail: How much to say.
:param note: A free-form note.
:returns: The forecast.
"""


def forecast(
    city: str,
    days: Annotated[int, Field(ge=1, le=7)] = 3,
    unit: Unit = Unit.CELSIUS,
    near: Optional[Point] = None,  # noqa: UP045 - the spelling users write, which must work too
    filters: Filters | None = None,
    hours: list[int] | None = None,
    detail: Literal["brief", "full"] = "brief",
    note: Annotated[str, Field(description="Explicit wins.", max_length=20)] = "",
) -> dict[str, Any]:
    # The function checks what it receives: a validator that let a wrong type through fails here.
    assert isinstance(city, str)
    assert isinstance(days, int) and not isinstance(days, bool) and 1 <= days <= 7
    assert isinstance(unit, Unit)
    assert near is None or isinstance(near, Point)
    assert near is None or all(isinstance(v, float) for v in (near.lat, near.lon))
    assert filters is None or isinstance(filters, Filters)
    assert hours is None or all(isinstance(h, int) for h in hours)
    assert detail in ("brief", "full") and isinstance(note, str) and len(note) <= 20
    return {"city": city, "days": days, "unit": unit.value}


def with_doc(doc: str) -> Any:
    """A copy of ``forecast`` under another docstring."""
    copy = types.FunctionType(forecast.__code__, forecast.__globals__, "forecast", forecast.__defaults__)
    copy.__annotations__ = forecast.__annotations__
    copy.__doc__ = doc
    return copy


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with a local ``$ref`` followed (the JSON pointer form pydantic writes)."""
    if list(node.get("allOf", ())) and len(node["allOf"]) == 1:  # pydantic < 2.9's form of $ref + siblings
        node = {**{k: v for k, v in node.items() if k != "allOf"}, **node["allOf"][0]}
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/$defs/")
        return {**schema["$defs"][name], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


@pytest.fixture
def registry() -> Iterator[ToolRegistry]:
    yield ToolRegistry()


# --- schema ------------------------------------------------------------------------------------


@pytest.mark.parametrize("doc", [GOOGLE, NUMPY, SPHINX], ids=["google", "numpy", "sphinx"])
def test_schema_from_signature_and_each_docstring_style(doc: str) -> None:
    t = Tool.from_function(with_doc(doc))
    schema = t.parameters
    jsonschema.Draft202012Validator.check_schema(schema)
    assert t.definition() == {
        "type": "function",
        "function": {"name": "forecast", "description": t.description, "parameters": schema},
    }
    assert t.description == "Forecast the weather.\n\nUses the nearest station."
    props = schema["properties"]
    assert list(props) == ["city", "days", "unit", "near", "filters", "hours", "detail", "note"]
    assert schema["required"] == ["city"]
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert props["city"] == {"type": "string", "description": "The city to forecast."}
    assert props["days"]["description"] == "How many days\nahead."
    assert (props["days"]["minimum"], props["days"]["maximum"], props["days"]["default"]) == (1, 7, 3)
    unit = resolve(schema, props["unit"])
    assert unit["enum"] == ["celsius", "fahrenheit"] and unit["default"] == "celsius"
    assert unit["description"] == "Temperature unit."
    near_types = [resolve(schema, option) for option in props["near"]["anyOf"]]
    assert {"type": "null"} in near_types
    point = next(option for option in near_types if option.get("type") == "object")
    assert (
        point["required"] == ["lat", "lon"] and props["near"]["description"] == "A point to forecast instead."
    )
    filters = next(resolve(schema, o) for o in props["filters"]["anyOf"] if "$ref" in o)
    assert filters["description"] == "What to leave out."
    assert filters["properties"]["max_results"]["minimum"] == 1
    assert props["hours"]["anyOf"][0] == {"type": "array", "items": {"type": "integer"}}
    assert props["detail"]["enum"] == ["brief", "full"]
    assert props["note"]["description"] == "Explicit wins."  # Field(description=) beats the docstring
    assert props["note"]["maxLength"] == 20


def test_titles_are_removed_but_not_a_parameter_or_default_called_title() -> None:
    def f(title: str, meta: dict[str, str] | None = None, other: dict[str, str] = {"title": "kept"}) -> None:  # noqa: B006
        pass

    string_map = {"type": "object", "additionalProperties": {"type": "string"}}
    assert Tool.from_function(f).parameters == {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "meta": {"anyOf": [string_map, {"type": "null"}], "default": None},
            "other": {**string_map, "default": {"title": "kept"}},
        },
        "required": ["title"],
        "additionalProperties": False,
    }


def test_missing_hints_docstring_and_awkward_names() -> None:
    def lookup(json, copy=1, model_config: str = "x", _private: int = 0):  # type: ignore[no-untyped-def]
        return (json, copy, model_config, _private)

    t = Tool.from_function(lookup)
    assert t.description == "lookup"  # no docstring: the name
    assert t.parameters["properties"]["json"] == {}  # no annotation: any JSON value
    assert t.parameters["required"] == ["json"]
    args = t.validate_arguments('{"json": [1, {"a": null}], "copy": "two", "_private": 4}')
    assert args == {"json": [1, {"a": None}], "copy": "two", "_private": 4}
    assert lookup(**args) == ([1, {"a": None}], "two", "x", 4)


class Connection:
    """A type JSON cannot carry."""


def test_a_type_json_cannot_carry_or_that_does_not_resolve_is_left_out_when_it_has_a_default() -> None:
    class Local:  # under postponed annotations, a name that does not resolve from the module
        pass

    def query(sql: str, conn: Connection = Connection(), extra: Local | None = None) -> Undefined:  # type: ignore[name-defined]  # noqa: B008, F821
        return type(conn).__name__

    t = Tool.from_function(query)  # an unresolvable return hint does not matter either
    assert list(t.parameters["properties"]) == ["sql"]  # the model cannot send them: hidden
    assert query(**t.validate_arguments('{"sql": "select 1"}')) == "Connection"
    with pytest.raises(ToolArgumentsError, match="conn: Extra inputs are not permitted"):
        t.validate_arguments('{"sql": "x", "conn": {}}')

    def needs(conn: Connection) -> None:
        pass

    def local(x: Local) -> None:
        pass

    with pytest.raises(
        TypeError, match=r"tool needs: parameter 'conn': its type .* cannot be expressed in JSON"
    ):
        Tool.from_function(needs)
    with pytest.raises(
        TypeError, match=r"tool local: parameter 'x': its type hint does not resolve \(NameError"
    ):
        Tool.from_function(local)


def test_bound_methods_callable_objects_partials_and_async() -> None:
    class Store:
        def __init__(self) -> None:
            self.items = {"a": 1}

        def get(self, key: str) -> int:
            """Look an item up."""
            return self.items[key]

        async def aget(self, key: str) -> int:
            return self.items[key]

    class Adder:
        def __call__(self, a: int, b: int = 2) -> int:
            return a + b

    store = Store()
    t = as_tool(store.get)
    assert list(t.parameters["properties"]) == ["key"] and t.description == "Look an item up."
    assert t.function(**t.validate_arguments('{"key": "a"}')) == 1
    assert not t.is_async and as_tool(store.aget).is_async
    adder = as_tool(Adder(), name="add")
    assert (
        adder.parameters["required"] == ["a"] and adder.function(**adder.validate_arguments('{"a": 1}')) == 3
    )
    double = as_tool(functools.partial(Adder().__call__, b=0), name="double")
    assert double.parameters["properties"]["b"]["default"] == 0


@pytest.mark.parametrize(
    ("func", "name", "message"),
    [
        (lambda x: x, None, "tool name '<lambda>' is not allowed"),
        (lambda *items: 0, "f", r"tool f: \*items cannot be described"),
        (lambda **options: 0, "f", r"tool f: \*\*options cannot be described"),
        (divmod, None, "tool divmod: parameter 'x' is positional-only"),
    ],
)
def test_what_cannot_be_a_tool_is_refused_with_its_name(func: Any, name: str | None, message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        Tool.from_function(func, name=name)


@pytest.mark.parametrize("name", ["", "has space", "dot.ted", "x" * 65, "é", "a/b"])
def test_names_anthropic_rejects_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not allowed: use 1-64 letters"):
        Tool.from_function(forecast, name=name)


def test_an_unbound_method_is_refused() -> None:
    def method(self, x: int) -> int:  # type: ignore[no-untyped-def]
        return x

    with pytest.raises(TypeError, match="unbound method"):
        Tool.from_function(method)


# --- arguments ---------------------------------------------------------------------------------


def test_arguments_are_converted_to_the_hinted_types_and_only_what_was_sent() -> None:
    t = Tool.from_function(forecast)
    sent = (
        '{"city": "Oslo", "unit": "fahrenheit", "near": {"lat": 1, "lon": 2}, "filters": {"keywords": ["x"]}}'
    )
    args = t.validate_arguments(sent)
    assert args == {
        "city": "Oslo",
        "unit": Unit.FAHRENHEIT,
        "near": Point(1.0, 2.0),
        "filters": Filters(keywords=["x"]),
    }
    assert isinstance(args["near"], Point) and isinstance(args["filters"], Filters)
    assert forecast(**args) == {"city": "Oslo", "days": 3, "unit": "fahrenheit"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ('{"days": 9}', "city: Field required; days: Input should be less than or equal to 7"),
        ('{"city": "x", "unit": "kelvin"}', "unit: Input should be 'celsius' or 'fahrenheit'"),
        ('{"city": "x", "near": {"lat": "north"}}', "near.lat: Input should be a valid number"),
        ('{"city": "x", "hours": [1, "noon"]}', r"hours\[1\]: Input should be a valid integer"),
        ('{"city": "x", "cty": "y"}', "cty: Extra inputs are not permitted"),
        (
            "{'city': 'x'}",
            r"not valid JSON \(Expecting property name enclosed in double quotes: line 1 column 2\)",
        ),
        ("[1, 2]", "must be a JSON object of named parameters, not an array"),
        ('"Oslo"', "not a string"),
        ("null", "not null"),
        ("", "city: Field required"),  # an empty string is no arguments
        ("[" * 100_000, "not valid JSON"),
    ],
)
def test_argument_errors_say_what_to_fix(arguments: str, message: str) -> None:
    with pytest.raises(ToolArgumentsError, match=message):
        Tool.from_function(forecast).validate_arguments(arguments)


FORECAST = Tool.from_function(forecast)
VALIDATOR = jsonschema.Draft202012Validator(FORECAST.parameters)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# Mostly plausible values per parameter, so that many examples are valid and the oracle has work.
plausible = {
    "city": st.text(max_size=10),
    "days": st.integers(-1, 9) | st.floats(0, 8, allow_nan=False),
    "unit": st.sampled_from(["celsius", "fahrenheit", "kelvin"]),
    "near": st.none() | st.fixed_dictionaries({"lat": st.floats(allow_nan=False), "lon": st.integers()}),
    "filters": st.none()
    | st.fixed_dictionaries(
        {}, optional={"max_results": st.integers(0, 9), "keywords": st.lists(st.text(max_size=3))}
    ),
    "hours": st.none() | st.lists(st.integers(0, 23) | st.floats(0, 23, allow_nan=False), max_size=3),
    "detail": st.sampled_from(["brief", "full", "BRIEF"]),
    "note": st.text(max_size=25),
}


def mostly(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Plausible values, and hostile JSON one time in five."""
    return st.integers(0, 4).flatmap(lambda pick: json_values if pick == 0 else values)


fields = {key: mostly(values) for key, values in plausible.items()}
others = {key: values for key, values in fields.items() if key != "city"}
objects = st.fixed_dictionaries({"city": fields["city"]}, optional=others) | st.fixed_dictionaries(
    {}, optional=fields
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(objects, objects, objects, json_values))  # mostly objects: the oracle needs valid ones
def test_arguments_that_jsonschema_accepts_are_accepted_and_callable(value: Any) -> None:
    try:
        args = FORECAST.validate_arguments(json.dumps(value))
    except ToolArgumentsError as exc:
        # The oracle's direction only: pydantic's lax mode accepts some values JSON Schema rejects
        # ("3" for an int), so only a refusal must be a schema violation. One known exception:
        # pydantic refuses integral floats past 64 bits (1e20) for an int, which JSON Schema allows.
        assert not VALIDATOR.is_valid(value) or "exceeded maximum size" in str(exc), value
        return
    forecast(**args)  # whatever is accepted, the function can be called with


@given(st.text() | st.binary().map(lambda b: b.decode("latin-1")))
def test_any_string_as_arguments_raises_only_tool_arguments_error(arguments: str) -> None:
    with contextlib.suppress(ToolArgumentsError):
        forecast(**FORECAST.validate_arguments(arguments))


# --- decorator and registry ----------------------------------------------------------------------


def test_decorator_registers_returns_the_function_and_replaces_a_redefinition() -> None:
    @tool
    def first_tool(x: int) -> int:
        return x + 1

    @tool(name="second-tool", description="Says hi.")
    def second(name: str) -> str:
        return f"hi {name}"

    assert first_tool(1) == 2 and second("a") == "hi a"  # still plain functions
    assert first_tool.__heroku_tool__ is REGISTRY["first_tool"]  # type: ignore[attr-defined]
    assert REGISTRY["second-tool"].description == "Says hi." and REGISTRY.get("second") is None
    assert REGISTRY.names()[-2:] == ["first_tool", "second-tool"] and "first_tool" in REGISTRY
    count = len(REGISTRY)

    @tool  # the cell run again, with the function changed
    def first_tool(x: int, y: int = 0) -> int:  # type: ignore[no-redef]
        return x + y

    assert len(REGISTRY) == count and REGISTRY.names()[-2:] == ["first_tool", "second-tool"]
    assert (
        REGISTRY["first_tool"].function is first_tool
        and "y" in REGISTRY["first_tool"].parameters["properties"]
    )
    assert as_tool(first_tool) is REGISTRY["first_tool"]
    assert REGISTRY.unregister("first_tool") is not None and REGISTRY.unregister("first_tool") is None
    assert "first_tool" not in REGISTRY and list(REGISTRY)[-1] == "second-tool"


def test_decorator_refusals_leave_the_registry_alone(registry: ToolRegistry) -> None:
    with pytest.raises(TypeError, match=r"tool gather: \*parts"):

        @tool(registry=registry)
        def gather(*parts: str) -> None:
            pass

    with pytest.raises(ValueError, match="'bad name' is not allowed"):

        @tool(name="bad name", registry=registry)
        def fine() -> None:
            pass

    assert len(registry) == 0


def test_as_tool(registry: ToolRegistry) -> None:
    @tool(registry=registry)
    def ping() -> str:
        return "pong"

    assert as_tool(ping) is registry["ping"]
    renamed = as_tool(ping, name="ping2")
    assert renamed.name == "ping2" and renamed.function is ping and registry["ping"].name == "ping"
    with pytest.raises(TypeError, match="is a int, not a function"):
        as_tool(3)
    assert ping.__heroku_tool__.validate_arguments("") == {}  # type: ignore[attr-defined]


def test_the_registry_exists_on_import_without_ipython() -> None:
    code = "import sys, heroku_magic.tools as t; print(type(t.REGISTRY).__name__, 'IPython' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["ToolRegistry", "False"]


# --- run_calls -----------------------------------------------------------------------------------


def call(name: str, arguments: Any = None, id: str | None = None) -> ToolCall:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
    return ToolCall(id or f"call-{name}", name, text)


def tools_of(*funcs: Any) -> dict[str, Tool]:
    return {t.name: t for t in map(Tool.from_function, funcs)}


@pytest.fixture
def threads() -> Iterator[None]:
    """Fail a test that leaves a thread of its own running."""
    before = set(threading.enumerate())
    yield
    left = [t for t in threading.enumerate() if t not in before]
    assert not left, f"threads left running: {left}"


@pytest.mark.usefixtures("threads")
def test_calls_run_concurrently_and_results_keep_the_calls_order() -> None:
    a_ran, b_ran = threading.Event(), threading.Event()
    reported: list[tuple[int, str, threading.Thread]] = []

    def first() -> str:
        a_ran.set()
        # Waits for the second: run one after the other, this would time out (and fail the test).
        return "first" if b_ran.wait(EVENT_WAIT) else "not concurrent"

    def second() -> str:
        b_ran.set()
        return "second" if a_ran.wait(EVENT_WAIT) else "not concurrent"

    results = run_calls(
        [call("first"), call("second")],
        tools_of(first, second),
        on_result=lambda i, r: reported.append((i, r.content, threading.current_thread())),
    )
    assert [(r.tool_call_id, r.content, r.is_error) for r in results] == [
        ("call-first", "first", False),
        ("call-second", "second", False),
    ]
    assert sorted(reported, key=lambda x: x[0]) == [
        (0, "first", threading.current_thread()),
        (1, "second", threading.current_thread()),
    ]
    assert all(r.duration is not None and r.duration >= 0 for r in results)


@pytest.mark.usefixtures("threads")
def test_later_calls_that_finish_first_are_reported_first_and_returned_in_place() -> None:
    release = threading.Event()
    order: list[int] = []

    def slow() -> str:
        return "slow" if release.wait(EVENT_WAIT) else "never released"

    def fast() -> str:
        return "fast"

    def on_result(index: int, result: ToolResult) -> None:
        order.append(index)
        release.set()  # the slow call may end only once the fast one was reported

    results = run_calls([call("slow"), call("fast")], tools_of(slow, fast), on_result=on_result)
    assert order == [1, 0] and [r.content for r in results] == ["slow", "fast"]


async def add(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


@pytest.mark.usefixtures("threads")
def test_async_tools_run_on_a_loop_of_their_own() -> None:
    assert run_calls([call("add", {"a": 1, "b": 2})], tools_of(add))[0].content == "3"

    async def in_a_kernel() -> list[ToolResult]:
        # The kernel's loop runs in the caller's thread: the tool must not need it.
        return run_calls([call("add", {"a": 2, "b": 2})], tools_of(add))

    # On a thread of its own: an earlier test in the same process may have left this thread's loop set.
    results: list[list[ToolResult]] = []
    worker = threading.Thread(target=lambda: results.append(asyncio.run(in_a_kernel())))
    worker.start()
    worker.join(10)
    assert results and results[0][0].content == "4"


@pytest.mark.usefixtures("threads")
def test_every_failure_is_a_result_the_model_can_read() -> None:
    def fails(x: int) -> None:
        raise ValueError("the message")

    def exits() -> None:
        raise SystemExit(3)

    reported: list[int] = []
    calls = [
        call("nope"),
        call("fails", "{not json"),
        call("fails", {"x": "many"}),
        call("fails", {"x": 1}),
        call("exits"),
        call("fails", ""),
    ]
    results = run_calls(calls, tools_of(fails, exits), on_result=lambda i, r: reported.append(i))
    assert all(r.is_error and r.duration is not None for r in results)
    assert sorted(reported) == list(range(len(calls)))
    assert [r.content for r in results] == [
        "Unknown tool 'nope': the tools offered are fails, exits.",
        "Invalid arguments for fails: the arguments are not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2)",
        "Invalid arguments for fails: x: Input should be a valid integer, unable to parse string as an integer",
        "ValueError: the message",
        "SystemExit: 3",
        "Invalid arguments for fails: x: Field required",
    ]
    assert run_calls([call("x")], {})[0].content == "Unknown tool 'x': the tools offered are none."


def clock_after(event: threading.Event) -> Any:
    """A clock that reads 0 until ``event`` is set, then an hour: deadlines pass on cue, not by luck."""
    return lambda: 3600.0 if event.is_set() else 0.0


@pytest.mark.usefixtures("threads")
def test_a_call_past_its_timeout_is_abandoned_and_its_thread_ends_when_released() -> None:
    release, quick_reported = threading.Event(), threading.Event()
    before = set(threading.enumerate())

    def stuck() -> str:
        release.wait(EVENT_WAIT)
        return "late"

    def quick() -> str:
        return "quick"

    results = run_calls(
        [call("stuck"), call("quick")],
        tools_of(stuck, quick),
        timeout=60,
        clock=clock_after(quick_reported),  # the hour passes once the quick call is in
        on_result=lambda i, r: quick_reported.set() if r.name == "quick" else None,
    )
    assert results[0].is_error and results[0].content == (
        "Timed out: stuck did not finish within 60 seconds; "
        "it may still be running in the background; its result will be ignored."
    )
    assert results[0].duration == 3600.0
    assert results[1].content == "quick" and not results[1].is_error
    leftover = [t for t in threading.enumerate() if t not in before]
    assert [t.name for t in leftover] == ["heroku-tool-stuck"] and leftover[0].daemon
    release.set()
    leftover[0].join(EVENT_WAIT)
    assert not leftover[0].is_alive()


@pytest.mark.usefixtures("threads")
def test_a_late_result_while_other_calls_run_is_ignored_and_its_thread_joined() -> None:
    release, b_running = threading.Event(), threading.Event()
    readings = iter([0.0, 50.0])  # a starts at 0, b at 50; then 100 once b runs: only a is past 60

    def clock() -> float:
        return next(readings, 100.0 if b_running.is_set() else 50.0)

    def a() -> str:
        release.wait(EVENT_WAIT)
        return "a, late"

    def b() -> str:
        b_running.set()
        # Ends only after a's late result is in: run_calls must skip it and keep waiting for b.
        for thread in threading.enumerate():
            if thread.name == "heroku-tool-a":
                thread.join(EVENT_WAIT)
        return "b"

    results = run_calls(
        [call("a"), call("b")],
        tools_of(a, b),
        timeout=60,
        clock=clock,
        on_result=lambda i, r: release.set(),  # a's timeout is reported: let it finish late
    )
    assert [r.content for r in results] == [
        "Timed out: a did not finish within 60 seconds; "
        "it may still be running in the background; its result will be ignored.",
        "b",
    ]


@pytest.mark.usefixtures("threads")
def test_a_timed_out_async_call_is_cancelled() -> None:
    started, cancelled = threading.Event(), threading.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.sleep(EVENT_WAIT)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    before = set(threading.enumerate())
    result = run_calls([call("forever")], tools_of(forever), timeout=60, clock=clock_after(started))[0]
    assert result.is_error and result.content.endswith("it was cancelled.")
    assert cancelled.wait(EVENT_WAIT)
    for thread in set(threading.enumerate()) - before:
        thread.join(EVENT_WAIT)


def test_the_timeout_and_durations_follow_the_given_clock() -> None:
    release = threading.Event()
    ticks = iter(range(0, 10_000, 10))  # every reading ten "seconds" later: no real time involved

    def stuck() -> None:
        release.wait(EVENT_WAIT)

    try:
        result = run_calls([call("stuck")], tools_of(stuck), timeout=25, clock=lambda: next(ticks))[0]
    finally:
        release.set()
    assert result.is_error and "within 25 seconds" in result.content
    # Readings are multiples of ten: a duration that is one and past the timeout came from this clock.
    assert result.duration is not None and result.duration >= 25 and result.duration % 10 == 0


@pytest.mark.usefixtures("threads", "sigint_raises")
@pytest.mark.parametrize("kind", ["thread", "async"])
def test_keyboard_interrupt_leaves_run_calls_while_a_tool_runs(kind: str) -> None:
    started, release = threading.Event(), threading.Event()

    def blocking() -> str:
        started.set()
        release.wait(EVENT_WAIT)
        return "done"

    async def waiting() -> str:
        started.set()
        await asyncio.sleep(EVENT_WAIT)
        return "done"

    def interrupt() -> None:
        if started.wait(EVENT_WAIT):
            _thread.interrupt_main()

    before = set(threading.enumerate())
    interrupter = threading.Thread(target=interrupt)
    interrupter.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_calls(
                [call("t")],
                {"t": Tool.from_function(blocking if kind == "thread" else waiting, name="t")},
                timeout=None,
            )
    finally:
        release.set()  # the plain thread cannot be stopped; the async one was cancelled already
        interrupter.join()
    for thread in set(threading.enumerate()) - before:
        thread.join(EVENT_WAIT)


# --- result_text ---------------------------------------------------------------------------------


def test_result_text() -> None:
    class Odd:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert result_text('plain, not "JSON"') == 'plain, not "JSON"'
    assert json.loads(result_text({"a": [1, 2.5, None, True], "é": "ü"})) == {
        "a": [1, 2.5, None, True],
        "é": "ü",
    }
    assert json.loads(result_text(Point(1, 2))) == {"lat": 1, "lon": 2}
    assert json.loads(result_text([Filters(keywords=["k"]), Unit.CELSIUS])) == [
        {"max_results": 5, "keywords": ["k"]},
        "celsius",
    ]
    assert result_text({1, 2}) == "{1, 2}"  # JSON has no sets: repr, not a list that loses the kind
    assert result_text({"s": {3}}) == "{'s': {3}}"
    assert result_text(Odd()).startswith("<Odd object; its repr failed: RuntimeError: no>")
    cycle: list[Any] = []
    cycle.append(cycle)
    assert result_text(cycle) == "[[...]]"
    huge = "x" * 123_456
    cut = result_text(huge, DEFAULT_RESULT_LIMIT)
    assert cut == "x" * 20_000 + "\n… [cut: 123,456 characters, showing the first 20,000]"
    assert result_text("y" * 10, 10) == "y" * 10


@pytest.mark.usefixtures("threads")
def test_results_are_cut_to_the_limit() -> None:
    def big() -> list[int]:
        return list(range(10_000))

    content = run_calls([call("big")], tools_of(big), limit=50)[0].content
    assert content.startswith("[0,1,2,") and content.endswith("showing the first 50]")
