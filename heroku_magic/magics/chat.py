"""The IPython layer: ``%%heroku_chat`` and its line-magic companions.

Each magic parses its arguments (IPython's ``@magic_arguments``: the parser is the ``?`` help),
turns them into :class:`~heroku_magic.options.ChatOptions`, calls the core, and hands the events to
renderers. State lives on a :class:`~heroku_magic.session.Session`, never on this object.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument
from traitlets import Bool, Unicode, observe

from ..config import DEFAULT_ATTACHMENT
from ..errors import APIError, ConfigurationError
from ..image_sizes import DEFAULT_MAX_BYTES
from ..paint import DEFAULT_INTERVAL
from ..session import DEFAULT_CONVERSATION, Session
from .arguments import (
    conversation_arguments,
    image_arguments,
    magic_arguments,
    request_arguments,
    tool_arguments,
)
from .support import (
    CheckedFloat,
    CheckedInt,
    CheckedUnicode,
    check_names,
    check_variable,
    client_for,
    options_from_args,
    parse_line,
    prompt_from_cell,
    publish,
    usage_errors,
)

# The renderers, the client and the Markdown parser are imported by the magics that use them, on
# first use: %load_ext loads only what registering the magics needs.

_NAME = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
FORMATS = ("markdown", "text", "code")


@magics_class
class HerokuMagics(Magics):
    """Magics for Heroku Managed Inference and Agents. Configure with ``%config HerokuMagics.NAME = ...``."""

    model = CheckedUnicode(
        None, allow_none=True, help="Default model when neither the cell nor the panel sets one."
    ).tag(config=True)
    system = Unicode(None, allow_none=True, help="Default system prompt for new conversations.").tag(
        config=True
    )
    temperature = CheckedFloat(None, allow_none=True, help="Default sampling temperature (0-1).").tag(
        config=True
    )
    max_tokens = CheckedInt(None, allow_none=True, help="Default maximum number of tokens to generate.").tag(
        config=True
    )
    attachment = CheckedUnicode(
        DEFAULT_ATTACHMENT,
        help="Config-var prefix of the add-on attachment (INFERENCE, INFERENCE_CYAN, ...).",
    ).tag(config=True)
    timeout = CheckedFloat(600.0, help="Seconds to wait for a response.").tag(config=True)
    max_retries = CheckedInt(
        2, help="Retries on 429/5xx/connection errors (the SDK's backoff, honouring Retry-After)."
    ).tag(config=True)
    widgets = Bool(
        None, allow_none=True, help="Live widgets: True, False, or None to decide by frontend."
    ).tag(config=True)
    tool_result_limit = CheckedInt(
        None,
        allow_none=True,
        help="Characters of a tool's result sent back to the model (longer ones are cut, with a note; default 20,000).",
    ).tag(config=True)
    image_max_bytes = CheckedInt(
        DEFAULT_MAX_BYTES,
        help="Largest --image sent, measured as its base64 text as Bedrock measures it (Anthropic's 5 MB); larger ones are downscaled with Pillow, or refused.",
    ).tag(config=True)
    paint_interval = CheckedFloat(
        DEFAULT_INTERVAL,
        help="Seconds between repaints of a streaming answer (the first token paints at once).",
    ).tag(config=True)

    def __init__(self, shell: Any = None, session: Session | None = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.session = session or Session()
        self.session.painter.interval = self.paint_interval
        self._cell_id: str | None = None
        if shell is not None:
            shell.events.register("pre_run_cell", self._remember_cell)

    @observe("paint_interval")
    def _paint_interval_changed(self, change: Any) -> None:
        self.session.painter.interval = change["new"]

    def _remember_cell(self, info: Any) -> None:
        self._cell_id = getattr(info, "cell_id", None)

    def current_cell_id(self) -> str | None:
        """The frontend's id of the running cell (re-running a cell replaces its turn)."""
        if self._cell_id:
            return self._cell_id
        kernel = getattr(self.shell, "kernel", None)
        parent = kernel.get_parent() if kernel is not None and hasattr(kernel, "get_parent") else None
        metadata = (parent or {}).get("metadata") or {}
        cell_id = metadata.get("cellId")
        return cell_id if isinstance(cell_id, str) else None

    # -- %%heroku_chat -----------------------------------------------------------------------------

    @magic_arguments()
    @conversation_arguments
    @argument("--no-stream", action="store_true", help="Wait for the whole answer instead of streaming.")
    @argument(
        "-f",
        "--format",
        choices=FORMATS,
        default="markdown",
        help="Show the answer as markdown, text, or code (code: its first code block goes into a new cell below).",
    )
    @argument(
        "-i",
        "--interpolate",
        action="store_true",
        help="Fill {name} in the cell from the user namespace ({{ and }} for literal braces).",
    )
    @image_arguments
    @tool_arguments
    @request_arguments
    @cell_magic
    def heroku_chat(self, line: str, cell: str) -> None:
        """Send the cell to a Heroku Managed Inference chat model and stream the answer.

        The cell body is the user message, sent verbatim. Turns continue across cells; re-running a
        cell replaces its earlier turn. Examples::

            %%heroku_chat
            Explain Python's GIL in two sentences.

            %%heroku_chat --model claude-4-5-sonnet --thinking 2048
            Plan a zero-downtime Postgres migration.

            %%heroku_chat -c review -s "You are a strict code reviewer" --out review
            Review: def add(a, b): return a - b

            %%heroku_chat --tools get_weather,convert_currency --confirm
            What's the weather in Paris, and 20 EUR in USD?
        """
        args = parse_line(self.heroku_chat, line)
        check_variable(args.out)
        check_names(args)
        prompt = prompt_from_cell(cell, "heroku_chat")
        prompt = self._interpolate(prompt) if args.interpolate else prompt
        options = options_from_args(args, self)
        message: Any = prompt  # the cell's text, then a part per --image
        if args.image:
            from ..images import content

            namespace = self.shell.user_ns if self.shell is not None else {}
            with usage_errors():
                message = content(
                    prompt,
                    *args.image,
                    namespace=namespace,
                    url_as_is=args.image_url_as_is,
                    max_bytes=self.image_max_bytes,
                )
        client = client_for(self, args.addon)
        from .cell_turn import converse

        text_format = "text" if args.format == "text" else "markdown"
        model = options.model or client.settings.model_id
        result = converse(self, args, message, options, client, model=model, text_format=text_format)
        if args.format == "code":
            from ..render.markdown import first_code_block

            code = first_code_block(result.text)
            if code is None:
                print("--format code: the answer has no code block, so no cell was added.")
            else:
                self.shell.set_next_input(code, replace=False)  # type: ignore[union-attr]

    def _interpolate(self, cell: str) -> str:
        namespace = self.shell.user_ns if self.shell is not None else {}

        def fill(match: re.Match[str]) -> str:
            if match.group(1) is None:
                return match.group(0)[0]
            if match.group(1) not in namespace:
                raise UsageError(f"--interpolate: {{{match.group(1)}}} is not defined in the notebook")
            return str(namespace[match.group(1)])

        return _NAME.sub(fill, cell)

    # -- line magics -------------------------------------------------------------------------------

    @magic_arguments()
    @argument(
        "name",
        nargs="?",
        default=DEFAULT_CONVERSATION,
        help="Conversation name (default: the kernel's default).",
    )
    @argument("--export", metavar="FILE", help="Write it to FILE: .json (OpenAI messages) or .md (Markdown).")
    @line_magic
    def heroku_history(self, line: str) -> None:
        """Show a conversation, or export it with --export FILE.md|FILE.json."""
        args = parse_line(self.heroku_history, line)
        conversation = self.session.conversations.get(args.name)
        if conversation is None:
            known = ", ".join(self.session.conversations) or "none yet"
            raise UsageError(f"No conversation named {args.name!r} (conversations: {known})")
        if args.export:
            try:
                path = conversation.export(Path(args.export).expanduser())
            except OSError as exc:
                raise UsageError(f"--export: cannot write {args.export}: {exc.strerror or exc}") from None
            print(f"Exported {len(conversation)} turns of {args.name!r} to {path}")
            return
        from ..render.static import history_html

        publish({"text/html": history_html(conversation), "text/plain": conversation.to_markdown()}, {})

    @magic_arguments()
    @argument("name", nargs="?", help="Conversation to clear (default: the kernel's default).")
    @argument("--all", action="store_true", help="Clear every conversation.")
    @line_magic
    def heroku_reset(self, line: str) -> None:
        """Clear a conversation's history (or all of them with --all)."""
        args = parse_line(self.heroku_reset, line)
        if args.all and args.name:
            raise UsageError(
                f"%heroku_reset takes a conversation name or --all, not both (got {args.name!r})"
            )
        if args.name and args.name not in self.session.conversations:
            known = ", ".join(self.session.conversations) or "none yet"
            raise UsageError(f"No conversation named {args.name!r} (conversations: {known})")
        cleared = self.session.reset(None if args.all else (args.name or DEFAULT_CONVERSATION))
        print(f"Cleared: {', '.join(cleared)}" if cleared else "Nothing to clear.")

    @line_magic
    def heroku_tools(self, line: str) -> None:
        """List the tools a model can be offered: Python tools (with their schemas), Heroku's tools, MCP servers."""
        if line.strip():
            raise UsageError(f"%heroku_tools takes no arguments, got {line.strip()!r}")
        from ..render.markdown import render_markdown, with_code_style
        from ..tool_catalog import heroku_tools_markdown, local_tools_markdown, mcp_markdown

        try:
            servers, problem = client_for(self).mcp_servers(), None
        except (UsageError, APIError) as exc:
            servers, problem = None, str(exc)
        text = "\n\n".join(
            [
                local_tools_markdown(self.session.tools),
                heroku_tools_markdown(),
                mcp_markdown(servers, problem),
            ]
        )
        publish({"text/html": with_code_style(render_markdown(text)), "text/plain": text}, {})

    @magic_arguments()
    @argument("--reset", action="store_true", help="Start counting afresh.")
    @line_magic
    def heroku_usage(self, line: str) -> None:
        """This kernel's requests and tokens so far, by model (chat, agents and explorations)."""
        args = parse_line(self.heroku_usage, line)
        usage = self.session.usage
        if args.reset:
            usage.clear()
            print("Usage totals cleared.")
            return
        from ..render.markdown import render_markdown

        text = usage_markdown(usage)
        publish({"text/html": render_markdown(text), "text/plain": text}, {})

    @magic_arguments()
    @argument("--all", action="store_true", help="Include embedding, image and rerank models.")
    @line_magic
    def heroku_models(self, line: str) -> None:
        """List Heroku's model catalogue (/available-models) with type and regions."""
        args = parse_line(self.heroku_models, line)
        try:
            client = self.session.client(self.attachment, timeout=self.timeout, max_retries=self.max_retries)
            models = client.available_models()
        except (ConfigurationError, APIError) as exc:
            raise UsageError(str(exc)) from None
        default = self.session.defaults.model or self.model or client.settings.model_id
        rows = [m for m in models if args.all or m.is_chat]
        header = "| model | type | supports | regions | default |\n|---|---|---|---|---|\n"
        table = "".join(
            f"| `{m.model_id}` | {', '.join(m.types)} | {_supports(m)} | {', '.join(m.regions)} | {'✓' if m.model_id == default else ''} |\n"
            for m in rows
        )
        plain = "\n".join(
            f"{'*' if m.model_id == default else ' '} {m.model_id:28} {','.join(m.types):20} {_supports(m):24} {','.join(m.regions)}"
            for m in rows
        )
        from ..render.markdown import render_markdown

        publish({"text/html": render_markdown(header + table), "text/plain": plain}, {})


def _supports(model: Any) -> str:
    """What a chat model supports, from the model rules (a fact no source settles is left out)."""
    if not model.is_chat:
        return ""
    return ", ".join(name for name in ("thinking", "vision", "tools") if getattr(model, name)) or "text"


def usage_markdown(usage: Any) -> str:
    """The session's usage as a Markdown table, a total row last."""
    if not usage:
        return "No requests yet in this kernel."
    rows = [
        (model, t.requests, t.prompt_tokens, t.completion_tokens, t.reasoning_tokens, t.reported)
        for model, t in usage.items()
    ]
    total = ("**total**", *(sum(row[n] for row in rows) for n in range(1, 6)))
    lines = [
        "| model | requests | prompt tokens | completion tokens | reasoning tokens |",
        "|---|---:|---:|---:|---:|",
        *(f"| `{r[0]}` | {r[1]} | {r[2]:,} | {r[3]:,} | {r[4]:,} |" for r in rows),
        f"| {total[0]} | {total[1]} | {total[2]:,} | {total[3]:,} | {total[4]:,} |",
    ]
    unreported = total[1] - total[5]
    note = f"\n\n{unreported} request(s) reported no usage (interrupted or failed)." if unreported else ""
    return "\n".join(lines) + note + "\n\nReasoning tokens are counted where the server reports them."


__all__ = ["HerokuMagics"]
