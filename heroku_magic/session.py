"""Session: one kernel's chat state — named conversations, panel defaults, clients per attachment.

Plain Python, so the magics stay thin and the state is reachable (and testable) without IPython.
Settings are read from the environment at each use, so exporting variables in a running kernel
takes effect without reloading anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import DEFAULT_ATTACHMENT, Settings
from .options import ChatOptions
from .paint import PaintScheduler

if TYPE_CHECKING:
    from .client import HerokuClient
    from .conversation import Conversation
    from .events import ChatResult
    from .tools import ToolRegistry

DEFAULT_CONVERSATION = "default"


class Session:
    """Named conversations and the default options later requests use."""

    def __init__(self, settings: Callable[[str], Settings] | None = None) -> None:
        self.conversations: dict[str, Conversation] = {}
        self.defaults = ChatOptions()  # what the controls panel sets
        self.active = DEFAULT_CONVERSATION  # the conversation cells continue when they name none
        self.last_request: dict[str, Any] | None = None
        self.usage: dict[str, UsageTotal] = {}  # by model: what this kernel's requests cost
        self.painter = PaintScheduler()  # paints every live view; the extension starts and stops it
        self._listeners: list[Callable[[], None]] = []
        self._settings = settings or (lambda attachment: Settings.from_env(attachment))
        # Keyed by the whole Settings, whose key is a Secret: vars(session) never shows it.
        self._clients: dict[tuple[Settings, float, int], HerokuClient] = {}

    def settings(self, attachment: str = DEFAULT_ATTACHMENT) -> Settings:
        """The attachment's settings, read now."""
        return self._settings(attachment)

    def client(
        self, attachment: str = DEFAULT_ATTACHMENT, *, timeout: float = 600.0, max_retries: int = 2
    ) -> HerokuClient:
        """A client for the attachment's current settings (reused while they stay the same)."""
        settings = self.settings(attachment)
        cache_key = (settings, timeout, max_retries)
        client = self._clients.get(cache_key)
        if client is None:
            from .client import HerokuClient  # on first use: %load_ext stays fast

            client = self._clients[cache_key] = HerokuClient(
                settings, timeout=timeout, max_retries=max_retries
            )
        return client

    @property
    def tools(self) -> ToolRegistry:
        """The registered tools (``@heroku_magic.tool``): one registry, seen by every session."""
        from .tools import REGISTRY  # on first use: pydantic is slow to import

        return REGISTRY

    def conversation(self, name: str = DEFAULT_CONVERSATION, *, new: bool = False) -> Conversation:
        """The conversation called ``name``, created on first use (or afresh with ``new``)."""
        if new or name not in self.conversations:
            from .conversation import Conversation

            self.conversations[name] = Conversation(name=name)
        return self.conversations[name]

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each request is recorded (the controls panel shows the last one)."""
        self._listeners.append(listener)

    def record_request(self, options: ChatOptions, model: str | None) -> None:
        """Remember what a request sends (model and parameters, not the messages)."""
        self.last_request = describe_request(options, model)
        for listener in self._listeners:
            listener()

    def record_usage(self, result: ChatResult) -> None:
        """Add a turn's model calls and tokens to the session's running total, by model."""
        for response in [step.response for step in result.steps] or [result]:
            model = response.model or result.model or "(unknown model)"
            self.usage.setdefault(model, UsageTotal()).add(response)

    def reset(self, name: str | None = None) -> list[str]:
        """Clear one conversation (or all); returns the names cleared."""
        names = list(self.conversations) if name is None else [name]
        for each in names:
            if each in self.conversations:
                self.conversations[each].reset()
        return [n for n in names if n in self.conversations]


def describe_request(options: ChatOptions, model: str | None) -> dict[str, Any]:
    """The parameters a request sends, by name, as a user would want to see them."""
    shown: dict[str, Any] = {"model": model or "(none: set one)"}
    for name, value in options.explicit().items():
        if name in ("model", "tools", "timeout", "max_retries", "stream"):
            continue
        if name == "thinking":
            value = f"{value.budget_tokens} tokens" + (", reasoning shown" if value.include_reasoning else "")
        shown[name] = value
    if options.tools:
        shown["tools"] = [tool.name for tool in options.tools]
    return shown


@dataclass
class UsageTotal:
    """One model's running total in a session: requests and tokens."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    reported: int = 0  # requests whose usage the server reported (an interrupted one may have none)

    def add(self, response: ChatResult) -> None:
        """Count one model call."""
        self.requests += 1
        if response.usage is not None:
            self.reported += 1
            self.prompt_tokens += response.usage.prompt_tokens
            self.completion_tokens += response.usage.completion_tokens
            self.reasoning_tokens += response.usage.reasoning_tokens or 0
