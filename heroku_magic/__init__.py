"""heroku_magic: chat with Heroku Managed Inference and Agents from Python and Jupyter.

The core works in a plain script::

    from heroku_magic import Conversation, ChatOptions
    print(Conversation().send("Hello", ChatOptions(model="claude-4-5-haiku")).text)

In IPython/Jupyter, ``%load_ext heroku_magic`` adds the ``%%heroku_chat`` magics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import Settings
    from .conversation import Conversation, Turn
    from .errors import APIError, ConfigurationError, HerokuMagicError, OptionsError
    from .events import (
        ChatResult,
        Done,
        Error,
        Event,
        NewStep,
        Notice,
        ReasoningDelta,
        ResponseInfo,
        Step,
        TextDelta,
        ToolCall,
        ToolCallDelta,
        ToolResult,
        ToolStatus,
        Usage,
    )
    from .options import ChatOptions, Thinking
    from .tools import REGISTRY, Tool, ToolArgumentsError, tool

# Where each public name lives: they are imported on first use, so that %load_ext (which imports
# this package) loads only what registering the magics needs.
_HOMES = {
    "Settings": "config",
    "Conversation": "conversation",
    "Turn": "conversation",
    "APIError": "errors",
    "ConfigurationError": "errors",
    "HerokuMagicError": "errors",
    "OptionsError": "errors",
    "ChatOptions": "options",
    "Thinking": "options",
    "ChatResult": "events",
    **dict.fromkeys(
        (
            "Done", "Error", "Event", "NewStep", "Notice", "ReasoningDelta", "ResponseInfo", "Step",
            "TextDelta", "ToolCall", "ToolCallDelta", "ToolResult", "ToolStatus", "Usage",
        ),
        "events",
    ),
    **dict.fromkeys(("REGISTRY", "Tool", "ToolArgumentsError", "tool"), "tools"),
}  # fmt: skip

__version__ = "0.1.0"

__all__ = [
    "REGISTRY",
    "APIError",
    "ChatOptions",
    "ChatResult",
    "ConfigurationError",
    "Conversation",
    "Done",
    "Error",
    "Event",
    "HerokuMagicError",
    "NewStep",
    "Notice",
    "OptionsError",
    "ReasoningDelta",
    "ResponseInfo",
    "Settings",
    "Step",
    "TextDelta",
    "Thinking",
    "Tool",
    "ToolArgumentsError",
    "ToolCall",
    "ToolCallDelta",
    "ToolResult",
    "ToolStatus",
    "Turn",
    "Usage",
    "current_session",
    "load_ipython_extension",
    "tool",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # found directly next time
    return value


def current_session() -> Any:
    """The running IPython shell's heroku_magic session: ``current_session().defaults``, conversations."""
    from .magics.extension import current_session

    return current_session()


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics with IPython (``%load_ext heroku_magic``)."""
    from .magics.extension import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Stop the live views' paint thread (``%unload_ext heroku_magic``)."""
    from .magics.extension import unload_ipython_extension as unload

    unload(ipython)
