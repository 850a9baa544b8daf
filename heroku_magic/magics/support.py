"""What the magic classes share: arguments, option building, client lookup, input checks, errors.

Declared once so a setting means the same thing in ``%%heroku_chat`` and ``%%heroku_explore``, and
every user mistake is the same one-line ``UsageError`` wherever it is made. The magic classes
import this module, never each other: the chat magics' configuration reaches the others as a
:class:`ChatConfig`.
"""

from __future__ import annotations

import keyword
import math
import shlex
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from IPython.core.error import UsageError
from IPython.display import display
from traitlets import Float, Int, TraitType, Unicode

from ..config import normalize_attachment
from ..errors import ConfigurationError, OptionsError
from ..options import ChatOptions, Thinking, parse_effort

if TYPE_CHECKING:
    from ..client import HerokuClient
    from ..session import Session
    from ..tools import Tool


class ChatConfig(Protocol):
    """The configured defaults every magic reads (``%config HerokuMagics.NAME``)."""

    session: Session
    shell: Any
    model: str | None
    system: str | None
    temperature: float | None
    max_tokens: int | None
    tool_result_limit: int | None
    attachment: str
    timeout: float
    max_retries: int
    widgets: bool | None

    def current_cell_id(self) -> str | None:
        """The frontend's id of the running cell (re-running a cell replaces its turn)."""
        ...


@contextmanager
def usage_errors() -> Iterator[None]:
    """User mistakes found by the core (options, configuration) as one-line UsageErrors."""
    try:
        yield
    except (OptionsError, ConfigurationError) as exc:
        raise UsageError(str(exc)) from None


def client_for(config: ChatConfig, addon: str | None = None) -> HerokuClient:
    """The client of the cell's attachment (``--addon``) or the configured one."""
    with usage_errors():
        return config.session.client(
            addon or config.attachment, timeout=config.timeout, max_retries=config.max_retries
        )


def prompt_from_cell(cell: str, magic: str) -> str:
    """The cell's text, or UsageError when there is none."""
    if not cell.strip():
        raise UsageError(f"The cell is empty: write your message below the %%{magic} line.")
    return cell


def use_widgets(args: Any, config: ChatConfig) -> bool:
    """Whether to show live widgets: not with --no-widgets or widgets=False; by frontend otherwise."""
    if getattr(args, "no_widgets", False) or config.widgets is False:
        return False
    if config.widgets:
        return True
    return getattr(config.shell, "kernel", None) is not None


def options_from_args(args: Any, config: ChatConfig) -> ChatOptions:
    """The cell's options over the panel's, over the traitlets config (the env comes last, in the client)."""
    namespace = config.shell.user_ns if config.shell is not None else {}
    with usage_errors():
        given = vars(args)  # a magic declares the arguments it takes: the others are not set
        cell = ChatOptions(
            model=given.get("model"),
            system=given.get("system"),
            temperature=given.get("temperature"),
            top_p=given.get("top_p"),
            top_k=given.get("top_k"),
            max_tokens=given.get("max_tokens"),
            stop=tuple(given["stop"]) if given.get("stop") else None,
            thinking=_thinking(given),
            reasoning_effort=parse_effort(given["effort"]) if given.get("effort") is not None else None,
            response_format="json_object" if given.get("json") else None,
            allow_ignored_params=True if given.get("allow_ignored_params") else None,
            stream=False if given.get("no_stream") else None,
            timeout=given.get("timeout"),
            max_retries=given.get("retries"),
            tools=tools_from_spec(given["tools"], namespace) if given.get("tools") else None,
            tool_choice=given.get("tool_choice"),
            parallel_tool_calls=given.get("parallel_tools"),
            max_tool_rounds=given.get("max_tool_rounds"),
            tool_timeout=given.get("tool_timeout"),
            developer=given.get("developer"),
            user=given.get("user"),
            metadata=_pairs("--metadata", given.get("metadata")),
            logprobs=True if given.get("logprobs") is not None else None,
            top_logprobs=given.get("logprobs") or None,
            max_completion_tokens=given.get("max_completion_tokens"),
            extra_body=_json_object("--extra", given.get("extra")),
        )
        config_options = ChatOptions(
            model=config.model,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            tool_result_limit=config.tool_result_limit,
        )
        return cell.over(current_tools(config.session.defaults)).over(config_options)


def _thinking(given: Mapping[str, Any]) -> Thinking | None:
    """--thinking [BUDGET], and --hide-reasoning (think, but send no trace back)."""
    if given.get("thinking") is None:
        if given.get("hide_reasoning"):
            raise OptionsError("--hide-reasoning needs --thinking: there is no reasoning to hide")
        return None
    return Thinking(given["thinking"], include_reasoning=not given.get("hide_reasoning"))


def _pairs(flag: str, specs: list[str] | None) -> dict[str, str] | None:
    """KEY=VALUE options as a mapping."""
    if not specs:
        return None
    pairs = {}
    for spec in specs:
        key, equals, value = spec.partition("=")
        if not equals or not key.strip():
            raise OptionsError(f"{flag} takes KEY=VALUE, got {spec!r}")
        pairs[key.strip()] = value
    return pairs


def _json_object(flag: str, text: str | None) -> dict[str, Any] | None:
    """A JSON object option, or OptionsError saying what is wrong with it."""
    if text is None:
        return None
    import json

    try:
        value = json.loads(text)
    except ValueError as exc:
        raise OptionsError(f"{flag} must be a JSON object: {exc}") from None
    if not isinstance(value, dict):
        raise OptionsError(f"{flag} must be a JSON object, got {text!r}")
    return value


def current_tools(options: ChatOptions) -> ChatOptions:
    """``options`` with each tool as registered now (re-running a cell that defines a tool replaces it)."""
    if not options.tools:
        return options
    from ..tools import REGISTRY

    return options.updated(tools=tuple(REGISTRY.get(tool.name, tool) for tool in options.tools))


def tools_from_spec(spec: str, namespace: Mapping[str, Any]) -> tuple[Tool, ...]:
    """``--tools``: ``all`` (every registered tool), ``none``, or names of registered tools or notebook functions."""
    from ..tools import REGISTRY, as_tool

    names = [name.strip() for name in spec.split(",") if name.strip()]
    if names == ["none"]:
        return ()
    if names == ["all"]:
        if not REGISTRY:
            raise UsageError(
                "--tools all: no tool is registered yet (decorate a function with @heroku_magic.tool)"
            )
        return tuple(REGISTRY.values())
    tools = []
    for name in names:
        found = namespace.get(name)
        if callable(found):
            try:
                tools.append(as_tool(found))
            except (TypeError, ValueError) as exc:
                raise UsageError(f"--tools {name}: {exc}") from None
        elif name in REGISTRY:
            tools.append(REGISTRY[name])
        else:
            known = ", ".join(REGISTRY) or "none registered"
            raise UsageError(
                f"--tools: {name!r} is neither a function in the notebook nor a registered tool (registered: {known})"
            )
    return tuple(tools)


def parse_line(magic: Any, line: str) -> Any:
    """Arguments parsed shell-style, so quoted values lose their quotes (-s "Be brief.")."""
    try:
        argv = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"{exc} in: {line}") from None
    return magic.parser.parse_args(argv)


def check_names(args: Any) -> None:
    """Refuse an empty --addon or conversation name (it would silently fall back to the default)."""
    for flag, value in (
        ("--addon", getattr(args, "addon", None)),
        ("--conversation", getattr(args, "conversation", None)),
    ):
        if value is not None and not value.strip():
            raise UsageError(f"{flag} needs a name, got an empty one")


def check_variable(name: str | None) -> None:
    """Refuse an --out name that is not a Python variable name (before anything is sent)."""
    if name is not None and (not name.isidentifier() or keyword.iskeyword(name)):
        raise UsageError(f"--out needs a Python variable name, got {name!r}")


def publish(data: dict[str, str], metadata: dict[str, Any]) -> None:
    """Display a MIME bundle as it is (the static outputs)."""
    display(data, raw=True, metadata=metadata)


def check_setting(owner: Any, name: str, value: Any) -> Any:
    """A configured default as given, or UsageError when a request (or the painter) would refuse it."""
    if value is None:
        return value
    try:
        if name == "paint_interval":
            if not (math.isfinite(value) and value >= 0):
                raise OptionsError(
                    f"paint_interval must be a finite number of seconds, 0 or more, got {value}"
                )
        elif name == "image_max_bytes":
            if value < 1024:
                raise OptionsError(f"image_max_bytes must be at least 1024 bytes, got {value}")
        elif name == "attachment":
            normalize_attachment(value)
        else:
            ChatOptions(**{name: value})
    except (OptionsError, ConfigurationError) as exc:
        raise UsageError(f"HerokuMagics.{name}: {exc}; it stays {getattr(owner, name)!r}") from None
    return value


# The check runs in the trait type's own validate, not in an @validate method: %config loads values
# with notifications held, stores them first and runs @validate afterwards, and traitlets rolls a value
# back only on a TraitError, so a refused value would stay set.
class _Checked(TraitType[Any, Any]):
    """Mixed into a trait type: refuses, as one UsageError line, what a request would refuse."""

    def validate(self, obj: Any, value: Any) -> Any:
        # TraitType itself has no validate: the concrete type mixed in after this one provides it.
        return check_setting(obj, str(self.name), super().validate(obj, value))  # type: ignore[misc]


class CheckedFloat(_Checked, Float[Any, Any]):
    """A float setting checked like a request option."""


class CheckedInt(_Checked, Int[Any, Any]):
    """An integer setting checked like a request option."""


class CheckedUnicode(_Checked, Unicode[Any, Any]):
    """A text setting checked like a request option."""
