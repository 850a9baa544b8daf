"""``%%heroku_agent``: a cell run by Heroku's agents endpoint, whose tools run on Heroku.

The cell continues the same conversations as ``%%heroku_chat`` and shows the run the same way: a
turn of steps, each tool call a card. What differs is the client
(:class:`~heroku_magic.client.AgentClient`) and the options: Heroku tools with their runtime
parameters, MCP tools, and the sampling settings the endpoint takes.
"""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument

from ..errors import OptionsError
from .arguments import agent_arguments, conversation_arguments, magic_arguments
from .support import (
    ChatConfig,
    check_names,
    check_variable,
    client_for,
    options_from_args,
    parse_line,
    prompt_from_cell,
)


@magics_class
class AgentMagics(Magics):
    """The agents magic; it shares the chat magics' session and configuration (``%config HerokuMagics``)."""

    def __init__(self, shell: Any, chat: ChatConfig, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.chat = chat

    @magic_arguments()
    @conversation_arguments
    @agent_arguments
    # Declared, hidden, only to refuse --image with the reason rather than argparse's "unrecognized".
    @argument("--image", action="append", help=argparse.SUPPRESS)
    @argument("--image-url-as-is", action="store_true", help=argparse.SUPPRESS)
    @cell_magic
    def heroku_agent(self, line: str, cell: str) -> None:
        """Send the cell to Heroku's agents endpoint, which runs Heroku and MCP tools, and stream the run.

        Heroku tools run on one-off dynos of an app (--app); MCP tools on the add-on's MCP servers.
        The conversation continues as with %%heroku_chat. Examples::

            %%heroku_agent --tool code_exec_python --app my-app
            What is the SHA-256 of "heroku"? Compute it with Python.

            %%heroku_agent --tool dyno_run_command --app my-app --tool-param cmd="ls -la"
            Which files does my app ship?

            %%heroku_agent --mcp mcp-brave
            Search the web for Heroku's latest changelog entry.
        """
        from ..agents import AgentTool, AgentTools, parse_tool_params
        from ..client import AgentClient
        from .cell_turn import converse

        args = parse_line(self.heroku_agent, line)
        if args.image or args.image_url_as_is:
            raise UsageError(
                "%%heroku_agent does not take --image: whether Heroku's agents endpoint accepts images "
                "is unconfirmed; send images with %%heroku_chat --image"
            )
        check_variable(args.out)
        check_names(args)
        prompt = prompt_from_cell(cell, "heroku_agent")
        options = options_from_args(args, self.chat)
        names = args.heroku_tools or []
        try:
            shared, own = parse_tool_params(args.tool_param or [], names)
            tools = AgentTools(
                tools=(
                    *(AgentTool(name, "heroku_tool", own.get(name, {})) for name in names),
                    *(AgentTool(name, "mcp") for name in args.mcp or []),
                ),
                app=args.app,
                dyno_size=args.dyno_size,
                ttl_seconds=args.ttl,
                max_calls=args.max_calls,
                params=shared,
            )
        except OptionsError as exc:
            raise UsageError(str(exc)) from None
        client = AgentClient(client_for(self.chat, args.addon), tools)
        model = options.model or client.settings.model_id
        converse(self.chat, args, prompt, options, client, model=model)
