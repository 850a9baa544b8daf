"""What the magic classes share: request arguments, line parsing, input checks, checked settings.

Declared once so a setting means the same thing in ``%%heroku_chat`` and ``%%heroku_explore``, and
every user mistake is the same one-line ``UsageError`` wherever it is made.
"""

from __future__ import annotations

import keyword
import math
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument
from IPython.display import display
from traitlets import Float, Int, TraitType, Unicode

from .errors import OptionsError
from .options import ChatOptions


def request_arguments(magic: Any) -> Any:
    """The request options %%heroku_chat and %%heroku_explore share, declared once."""
    for declare in reversed(_REQUEST_ARGUMENTS):
        magic = declare(magic)
    return magic


_REQUEST_ARGUMENTS = [
    argument(
        "-m",
        "--model",
        help="Model id, e.g. claude-4-5-sonnet (default: panel, config, then INFERENCE_MODEL_ID).",
    ),
    argument("-s", "--system", metavar="TEXT", help="System prompt (kept for the rest of the conversation)."),
    argument(
        "-t", "--temperature", type=float, help="Sampling temperature, 0-1 (not with --top-p or --thinking)."
    ),
    argument("--top-p", type=float, help="Nucleus sampling, (0-1] (not with --temperature or --thinking)."),
    argument("--top-k", type=int, help="Sample from the K most likely tokens."),
    argument("--max-tokens", type=int, help="Maximum tokens to generate."),
    argument("--stop", metavar="SEQ", action="append", help="Stop sequence (repeatable, up to 4)."),
    argument(
        "--thinking",
        metavar="BUDGET",
        nargs="?",
        type=int,
        const=1024,
        help="Extended thinking with this token budget (>= 1024; default 1024); the reasoning is shown.",
    ),
    argument("--effort", help="Reasoning effort: low, medium or high."),
    argument("--json", action="store_true", help="Ask for a JSON object; the parsed value is result.json()."),
    argument(
        "--allow-ignored-params",
        action="store_true",
        help="Let Heroku ignore parameters it does not support instead of failing.",
    ),
    argument("--addon", metavar="NAME", help="Config-var prefix of another attachment, e.g. INFERENCE_CYAN."),
    argument("--timeout", type=float, help="Seconds to wait for the response."),
    argument("--retries", type=int, help="Retries on rate limits and server errors."),
    argument("--no-widgets", action="store_true", help="Stream as plain text instead of live widgets."),
]


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
        else:
            ChatOptions(**{name: value})
    except OptionsError as exc:
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
