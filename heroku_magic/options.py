"""ChatOptions: one validated value object for the settings of a chat turn.

Every field defaults to ``None`` ("not set"), so option layers (cell options, the controls panel,
traitlets config) merge with :meth:`ChatOptions.over`. The rules Heroku's Claude models enforce are
checked when an object is built, so a bad combination fails before anything is sent. How the
options become a request body is the transport's business (``client.chat_arguments``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Literal, cast

from .errors import OptionsError

if TYPE_CHECKING:
    from .tools import Tool

Effort = Literal["low", "medium", "high"]
EFFORTS: tuple[str, ...] = ("low", "medium", "high")
MIN_THINKING_BUDGET = 1024
DEFAULT_MAX_TOOL_ROUNDS = 8
TOOL_CHOICES = ("auto", "none", "required")
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # Anthropic's rule for tool names


# The settings one %%heroku_explore grid may vary (here, not in explore.py: the magic's help names
# them, and loading the extension need not load the grid runner).
GRID_FIELDS = ("model", "temperature", "top_p", "top_k", "max_tokens", "thinking", "effort", "system")


@dataclass(frozen=True)
class Thinking:
    """Heroku's ``extended_thinking``: a reasoning budget and whether the trace comes back."""

    budget_tokens: int = MIN_THINKING_BUDGET
    include_reasoning: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.budget_tokens, bool) or not isinstance(self.budget_tokens, int):
            raise OptionsError(
                f"thinking budget must be a whole number of tokens, got {self.budget_tokens!r}"
            )
        if self.budget_tokens < MIN_THINKING_BUDGET:
            raise OptionsError(
                f"thinking budget must be at least {MIN_THINKING_BUDGET} tokens (Heroku rejects less), "
                f"got {self.budget_tokens}"
            )

    def to_body(self) -> dict[str, Any]:
        """The ``extended_thinking`` object Heroku expects."""
        return {
            "enabled": True,
            "budget_tokens": self.budget_tokens,
            "include_reasoning": self.include_reasoning,
        }


@dataclass(frozen=True, repr=False)
class ChatOptions:
    """The settings of one chat request; ``None`` means "not set here"."""

    model: str | None = None
    system: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] | None = None
    thinking: Thinking | None = None
    reasoning_effort: Effort | None = None
    tools: tuple[Tool, ...] | None = None  # functions, registered names or Tools; () offers none
    tool_choice: str | None = None  # auto, none, required, or the name of one tool
    parallel_tool_calls: bool | None = None
    max_tool_rounds: int | None = None  # times tools run in one turn (default 8)
    tool_timeout: float | None = None  # seconds one tool may run (default 60)
    tool_result_limit: int | None = None  # characters of a tool's result sent back (default 20,000)
    response_format: Literal["text", "json_object"] | None = None
    allow_ignored_params: bool | None = None
    developer: str | None = None  # a developer-role message, sent after the system prompt
    user: str | None = None  # an end-user id (Heroku accepts and ignores it)
    metadata: Mapping[str, str] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None  # 0-20 most likely tokens per position (needs logprobs)
    max_completion_tokens: int | None = None
    extra_body: Mapping[str, Any] | None = None  # fields Heroku adds later, sent as given
    stream: bool | None = None
    timeout: float | None = None
    max_retries: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.stop, (str, list)):
            object.__setattr__(self, "stop", (self.stop,) if isinstance(self.stop, str) else tuple(self.stop))
        if self.tools is not None:
            object.__setattr__(self, "tools", _tools(self.tools))
        self._check_ranges()
        self._check_combinations()

    def _check_ranges(self) -> None:
        _number("temperature", self.temperature, 0.0, 1.0)
        _number("top_p", self.top_p, 0.0, 1.0, low_open=True)
        _whole("top_k", self.top_k, 1)
        _whole("max_tokens", self.max_tokens, 1)
        _whole("max_retries", self.max_retries, 0)
        _whole("max_tool_rounds", self.max_tool_rounds, 0)
        _whole("max_completion_tokens", self.max_completion_tokens, 1)
        _whole("top_logprobs", self.top_logprobs, 0)
        if self.top_logprobs is not None and self.top_logprobs > 20:
            raise OptionsError(f"top_logprobs must be at most 20, got {self.top_logprobs}")
        for name in ("developer", "user"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, str) and value.strip()):
                raise OptionsError(f"{name} must be non-empty text, got {value!r}")
        if self.metadata is not None and not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.metadata.items()
        ):
            raise OptionsError("metadata must map text keys to text values")
        if self.extra_body is not None and not isinstance(self.extra_body, Mapping):
            raise OptionsError(f"extra_body must be a JSON object, got {self.extra_body!r}")
        _whole("tool_result_limit", self.tool_result_limit, 100)
        _number("tool_timeout", self.tool_timeout, 0.0, None, low_open=True)
        _number("timeout", self.timeout, 0.0, None, low_open=True)
        if self.model is not None and not (isinstance(self.model, str) and self.model.strip()):
            raise OptionsError(f"model must be a non-empty model id, got {self.model!r}")
        if self.reasoning_effort is not None and self.reasoning_effort not in EFFORTS:
            raise OptionsError(
                f"reasoning effort must be one of {', '.join(EFFORTS)}, got {self.reasoning_effort!r}"
            )
        if self.stop is not None:
            if len(self.stop) > 4:
                raise OptionsError(f"at most 4 stop sequences are allowed, got {len(self.stop)}")
            if not all(isinstance(s, str) and s for s in self.stop):
                raise OptionsError("stop sequences must be non-empty strings")
        if self.response_format is not None and self.response_format not in ("text", "json_object"):
            raise OptionsError(f"response_format must be text or json_object, got {self.response_format!r}")
        if self.tool_choice is not None and not (
            isinstance(self.tool_choice, str) and TOOL_NAME.match(self.tool_choice)
        ):
            raise OptionsError(
                f"tool_choice must be auto, none, required or a tool's name, got {self.tool_choice!r}"
            )

    def _check_combinations(self) -> None:
        if self.max_tokens is not None and self.max_completion_tokens is not None:
            raise OptionsError("max_tokens and max_completion_tokens are the same limit: set one")
        if self.top_logprobs is not None and not self.logprobs:
            raise OptionsError("top_logprobs needs logprobs (--logprobs)")
        named = self.tool_choice is not None and self.tool_choice not in TOOL_CHOICES
        if named and self.tools is not None and self.tool_choice not in {t.name for t in self.tools}:
            offered = ", ".join(tool.name for tool in self.tools) or "none"
            raise OptionsError(
                f"tool_choice {self.tool_choice!r} is not one of the tools offered ({offered})"
            )
        if self.tool_choice == "required" and self.tools == ():
            raise OptionsError("tool_choice required needs at least one tool (--tools)")
        # temperature with top_p is refused per model (model_rules.py), where the model is known.
        if self.thinking is not None:
            if self.temperature is not None and self.temperature != 1:
                raise OptionsError(
                    f"extended thinking requires temperature 1 (got {self.temperature}); "
                    "drop the temperature or set it to 1"
                )
            if self.top_p is not None:
                raise OptionsError("extended thinking cannot be combined with top_p; drop top_p")

    def __repr__(self) -> str:
        return f"ChatOptions({', '.join(f'{k}={v!r}' for k, v in self.explicit().items())})"

    def over(self, fallback: ChatOptions) -> ChatOptions:
        """These options, with every unset field taken from ``fallback`` (validated together).

        Sampling is one choice (temperature, top_p or extended thinking): when these options make
        it, the fallback's conflicting fields give way instead of failing Heroku's rules.
        """
        fallback = replace(fallback, **{name: None for name in self._overrules(fallback)})
        merged = {
            f.name: getattr(self, f.name) if getattr(self, f.name) is not None else getattr(fallback, f.name)
            for f in fields(self)
        }
        return ChatOptions(**merged)

    def _overrules(self, fallback: ChatOptions) -> set[str]:
        """The fallback's sampling fields that conflict with the choice these options make."""
        dropped: set[str] = set()
        if self.thinking is not None:
            dropped |= {"top_p"} | ({"temperature"} if fallback.temperature not in (None, 1) else set())
        if self.top_p is not None:
            dropped |= {"temperature", "thinking"}
        if self.temperature is not None:
            dropped |= {"top_p"} | ({"thinking"} if self.temperature != 1 else set())
        return dropped

    def updated(self, **changes: Any) -> ChatOptions:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def explicit(self) -> dict[str, Any]:
        """The fields that are set, by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def parse_effort(value: str) -> Effort:
    """A reasoning effort from text, or an OptionsError naming the choices."""
    effort = value.strip().lower()
    if effort not in EFFORTS:
        raise OptionsError(f"reasoning effort must be one of {', '.join(EFFORTS)}, got {value!r}")
    return cast(Effort, effort)


def _tools(given: Any) -> tuple[Tool, ...]:
    """Tools from Tool objects, functions, or the names of registered tools (one name may appear once)."""
    from .tools import REGISTRY, Tool, as_tool  # on first use: pydantic is slow to import

    if isinstance(given, (str, Tool)) or callable(given):
        given = (given,)
    tools: dict[str, Tool] = {}
    for item in given:
        if isinstance(item, str):
            if item not in REGISTRY:
                known = ", ".join(REGISTRY.names()) or "none registered"
                raise OptionsError(f"no tool named {item!r} is registered (registered: {known})")
            item = REGISTRY.get(item)
        elif not isinstance(item, Tool):
            try:
                item = as_tool(item)
            except (TypeError, ValueError) as exc:
                raise OptionsError(str(exc)) from None
        tools[item.name] = item
    return tuple(tools.values())


def _number(name: str, value: float | None, low: float, high: float | None, low_open: bool = False) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise OptionsError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        # NaN slips through every comparison below, and the SDK or JSON then fails with a traceback.
        raise OptionsError(f"{name} must be a finite number, got {value}")
    too_low = value <= low if low_open else value < low
    if too_low or (high is not None and value > high):
        span = f"{'above' if low_open else 'from'} {low:g}" + (f" to {high:g}" if high is not None else "")
        raise OptionsError(f"{name} must be {span}, got {value:g}")


def _whole(name: str, value: int | None, low: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionsError(f"{name} must be a whole number, got {value!r}")
    if value < low:
        raise OptionsError(f"{name} must be at least {low}, got {value}")
