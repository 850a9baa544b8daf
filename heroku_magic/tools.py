"""Python functions as tools the model can call: their schema, their registry, their arguments.

A :class:`Tool` pairs a callable with the JSON schema the model sees. The schema and the checking
of the model's arguments both come from one pydantic model built from the function's signature and
type hints, so what the model is told and what is enforced cannot drift apart; descriptions come
from the docstring (Google, NumPy or Sphinx style, read by ``docstring_parser``). ``@tool`` puts a
function in :data:`REGISTRY`; running the calls is ``tool_runner.py``'s job.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, overload

import docstring_parser
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model
from pydantic.fields import FieldInfo

from .errors import HerokuMagicError

__all__ = ["REGISTRY", "Tool", "ToolArgumentsError", "ToolRegistry", "as_tool", "tool"]

F = TypeVar("F", bound=Callable[..., Any])

# Anthropic's rule for tool names (Heroku serves Claude); OpenAI's is the same set of characters.
_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_ATTRIBUTE = "__heroku_tool__"
_MAX_ERRORS = 8  # a model fixes its call from the first few problems; the rest is noise
# Keys whose values are data, not schemas: a default of {"title": ...} must survive title removal.
_DATA_KEYS = frozenset({"default", "const", "enum", "examples"})
# Keys whose values map names to schemas: a parameter called "title" must survive title removal.
_SCHEMA_MAPS = frozenset({"properties", "$defs", "patternProperties", "dependentSchemas"})


class ToolArgumentsError(HerokuMagicError, ValueError):
    """The model's arguments for a tool are not JSON, not an object, or do not fit the signature."""


@dataclass(frozen=True)
class Tool:
    """A callable the model may call: its name, description, parameters schema and function."""

    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., Any]
    is_async: bool = False
    # The pydantic model behind ``parameters``; None for a hand-made Tool, whose arguments are then
    # only checked to be a JSON object.
    arguments_model: type[BaseModel] | None = dataclasses.field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_name(self.name)

    def __hash__(self) -> int:
        # The generated hash would hash the parameters dict and fail; equal Tools share these three.
        return hash((self.name, self.description, self.function))

    @classmethod
    def from_function(
        cls, func: Callable[..., Any], name: str | None = None, description: str | None = None
    ) -> Tool:
        """The Tool for ``func``: schema from its signature and type hints, text from its docstring."""
        if not callable(func):
            raise TypeError(f"a tool must be a function; got {type(func).__name__} {func!r:.80}")
        name = _default_name(func) if name is None else name
        _check_name(name)
        doc = docstring_parser.parse(inspect.getdoc(func) or "")
        model = _arguments_model(func, name, {p.arg_name: p.description or "" for p in doc.params})
        if not description:
            text = "\n\n".join(part for part in (doc.short_description, doc.long_description) if part)
            description = text.strip() or name
        return cls(
            name=name,
            description=description,
            parameters=_without_titles(model.model_json_schema()),
            function=func,
            is_async=_is_async(func),
            arguments_model=model,
        )

    def definition(self) -> dict[str, Any]:
        """The tool in OpenAI's ``tools`` request shape."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    def validate_arguments(self, arguments: str) -> dict[str, Any]:
        """The keyword arguments for ``function`` from the model's JSON, converted to the hinted types."""
        # An empty string is how some models send "no arguments" (as ToolCall.parsed_arguments reads it).
        try:
            value = json.loads(arguments) if arguments.strip() else {}
        except (ValueError, RecursionError) as exc:
            if isinstance(exc, json.JSONDecodeError):
                reason = f"{exc.msg}: line {exc.lineno} column {exc.colno}"
            else:  # RecursionError: nested deeper than the parser goes
                reason = type(exc).__name__
            raise ToolArgumentsError(f"the arguments are not valid JSON ({reason})") from None
        if not isinstance(value, dict):
            raise ToolArgumentsError(
                f"the arguments must be a JSON object of named parameters, not {_json_kind(value)}"
            )
        if self.arguments_model is None:
            return value
        try:
            validated = self.arguments_model.model_validate(value)
        except ValidationError as exc:
            raise ToolArgumentsError(_describe(exc)) from None
        # Only what the model sent: the function's own defaults apply to the rest, unshared and
        # including defaults the schema could not express.
        fields = type(validated).model_fields
        return {
            fields[key].alias or key: getattr(validated, key)
            for key in fields
            if key in validated.model_fields_set
        }


class ToolRegistry(Mapping[str, Tool]):
    """Tools by name, in registration order; registering a name again replaces that tool in place."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def register(self, tool: Tool) -> Tool:
        """Add ``tool``, replacing one of the same name (a re-run notebook cell redefines it)."""
        self._tools[tool.name] = tool
        return tool

    def unregister(self, name: str) -> Tool | None:
        """Remove the tool called ``name``; return it, or None when there was none."""
        return self._tools.pop(name, None)

    def names(self) -> list[str]:
        """The registered names in registration order."""
        return list(self._tools)

    def clear(self) -> None:
        """Remove every tool."""
        self._tools.clear()

    def __getitem__(self, name: str) -> Tool:
        return self._tools[name]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._tools))  # a copy: a tool may be registered while another thread iterates

    def __len__(self) -> int:
        return len(self._tools)

    def __repr__(self) -> str:
        return f"ToolRegistry({self.names()!r})"


REGISTRY = ToolRegistry()
"""The tools ``@tool`` registers; exists on import, before the IPython extension loads."""


@overload
def tool(func: F, /) -> F: ...
@overload
def tool(
    *, name: str | None = None, description: str | None = None, registry: ToolRegistry | None = None
) -> Callable[[F], F]: ...
def tool(
    func: F | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    registry: ToolRegistry | None = None,
) -> F | Callable[[F], F]:
    """Register a function as a tool (``@tool`` or ``@tool(name=...)``); return it unchanged."""

    def register(func: F) -> F:
        built = Tool.from_function(func, name=name, description=description)
        (REGISTRY if registry is None else registry).register(built)
        # Bound methods and builtins take no attributes; their Tool is still registered.
        with contextlib.suppress(AttributeError, TypeError):
            setattr(func, _ATTRIBUTE, built)
        return func

    return register if func is None else register(func)


def as_tool(obj: object, name: str | None = None, description: str | None = None) -> Tool:
    """The Tool for ``obj``: its ``@tool`` Tool when it has one, else one built from it."""
    if not callable(obj):
        raise TypeError(f"{obj!r:.80} is a {type(obj).__name__}, not a function, so it cannot be a tool")
    existing = getattr(obj, _ATTRIBUTE, None)
    # A bound method reads its function's attribute too; that Tool would lack ``self``.
    if isinstance(existing, Tool) and _same_callable(existing.function, obj):
        if name is None and description is None:
            return existing
        return dataclasses.replace(
            existing, name=name or existing.name, description=description or existing.description
        )
    return Tool.from_function(obj, name=name, description=description)


def _check_name(name: str) -> None:
    """Refuse a name Anthropic would reject, before the request does."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"tool name {name!r} is not allowed: use 1-64 letters, digits, '_' or '-' "
            "(give another with @tool(name=...) or as_tool(f, name=...))"
        )


def _default_name(func: Callable[..., Any]) -> str:
    """The function's ``__name__`` (a partial's inner function's; an object's class name)."""
    inner = _unpartial(func)
    return str(getattr(func, "__name__", None) or getattr(inner, "__name__", None) or type(func).__name__)


def _unpartial(func: Any) -> Any:
    """The function inside (possibly nested) ``functools.partial`` objects."""
    while isinstance(func, functools.partial):
        func = func.func
    return func


def _is_async(func: Callable[..., Any]) -> bool:
    """Whether calling ``func`` gives a coroutine (an ``async def`` function, method or ``__call__``)."""
    inner = _unpartial(func)
    call = inner if inspect.isroutine(inner) or inspect.isclass(inner) else type(inner).__call__
    return inspect.iscoroutinefunction(call)


def _same_callable(a: object, b: object) -> bool:
    """Whether two callables are the same function (bound methods are made afresh on each access)."""
    if inspect.ismethod(a) and inspect.ismethod(b):
        return a.__func__ is b.__func__ and a.__self__ is b.__self__
    return a is b


def _hints(func: Callable[..., Any]) -> dict[str, Any]:
    """Each parameter's resolved type hint (``Annotated`` kept), or the exception resolving it raised."""
    target = _unpartial(func)
    if inspect.ismethod(target):
        target = target.__func__
    elif inspect.isclass(target):
        target = target.__init__
    elif not inspect.isroutine(target):
        target = type(target).__call__  # a callable object
    namespace = getattr(inspect.unwrap(target), "__globals__", None)
    hints: dict[str, Any] = {}
    # One at a time, and never the return hint: a name imported only under TYPE_CHECKING, or a class
    # local to a function, then spoils only its own parameter.
    for name, annotation in getattr(target, "__annotations__", {}).items():
        if name != "return":
            single = types.SimpleNamespace(__annotations__={name: annotation})
            try:
                hints[name] = typing.get_type_hints(single, globalns=namespace, include_extras=True)[name]
            except Exception as exc:  # NameError for an undefined name, TypeError for a bad expression
                hints[name] = exc
    return hints


def _unusable(hint: Any) -> str | None:
    """Why the model could not send a value of this type, or None when it can."""
    if isinstance(hint, Exception):
        return f"its type hint does not resolve ({type(hint).__name__}: {hint})"
    try:
        TypeAdapter(hint).json_schema()
    except Exception as exc:  # pydantic's errors for types it cannot validate or describe
        return f"its type {hint!r} cannot be expressed in JSON ({type(exc).__name__})"
    return None


def _arguments_model(func: Callable[..., Any], label: str, docs: Mapping[str, str]) -> type[BaseModel]:
    """A pydantic model of ``func``'s parameters: the schema the model sees and the arguments' check."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"tool {label}: cannot read its signature ({exc})") from None
    hints = _hints(func)
    fields: dict[str, Any] = {}
    for position, param in enumerate(signature.parameters.values()):
        problem = None
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            star = "*" if param.kind is param.VAR_POSITIONAL else "**"
            problem = f"{star}{param.name} cannot be described to the model; name each parameter instead"
        elif param.kind is param.POSITIONAL_ONLY:
            problem = f"parameter {param.name!r} is positional-only; tools are called by name"
        elif position == 0 and param.name == "self" and inspect.isfunction(func):
            problem = f"looks like an unbound method; register the bound one, obj.{label}"
        hint = hints.get(param.name, Any)  # no annotation: any JSON value
        required = param.default is inspect.Parameter.empty
        unusable = None if problem else _unusable(hint)
        if unusable and not required:
            continue  # the model cannot send it, but the function has a default: leave it out
        if unusable:
            problem = f"parameter {param.name!r}: {unusable}; give it a default or another type"
        if problem:
            raise TypeError(f"tool {label}: {problem}")
        extra: dict[str, Any] = {}
        if docs.get(param.name) and not _has_description(hint):
            # Only when given: even description=None would override the one in Annotated[..., Field()].
            extra["description"] = docs[param.name]
        info = Field(default=... if required else param.default, alias=param.name, **extra)
        # Internal field names: parameters called "json", "copy" or "_x" would clash with BaseModel.
        fields[f"p{position}"] = (hint, info)
    # Unknown keys are refused, so a misspelt optional parameter is reported, not silently dropped.
    return create_model(f"{label}_arguments", __config__=ConfigDict(extra="forbid"), **fields)


def _has_description(hint: Any) -> bool:
    """Whether ``Annotated[..., Field(description=...)]`` already describes the parameter."""
    if typing.get_origin(hint) is not Annotated:
        return False
    return any(isinstance(meta, FieldInfo) and meta.description for meta in typing.get_args(hint)[1:])


def _without_titles(schema: Any) -> Any:
    """The schema without pydantic's generated ``title`` keys, which only repeat the names."""
    if isinstance(schema, list):
        return [_without_titles(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in _DATA_KEYS:
            out[key] = value
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _without_titles(sub) for name, sub in value.items()}
        else:
            out[key] = _without_titles(value)
    return out


def _describe(exc: ValidationError) -> str:
    """One short line per problem, ``where: what``, for a model that must correct its call."""
    lines = []
    for error in exc.errors(include_url=False):
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
        where = where.lstrip(".")
        lines.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    if len(lines) > _MAX_ERRORS:
        lines[_MAX_ERRORS:] = [f"and {len(lines) - _MAX_ERRORS} more problems"]
    return "; ".join(lines)


def _json_kind(value: object) -> str:
    """How JSON names the type of a decoded value: 'an array', 'a string', …"""
    if isinstance(value, bool):  # before int, which bool is
        return "a boolean"
    kinds = {list: "an array", str: "a string", int: "a number", float: "a number"}
    return kinds.get(type(value), "null")
