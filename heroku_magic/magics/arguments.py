"""The declared arguments of the cell magics: the parser of each is its ``?`` help.

Declared once, so an option means the same thing in ``%%heroku_chat``, ``%%heroku_explore`` and
``%%heroku_agent``; each magic takes the subset that its endpoint accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from IPython.core import magic_arguments as ipython_arguments
from IPython.core.magic_arguments import argument

Declare = Callable[[Any], Any]


class magic_arguments(ipython_arguments.magic_arguments):
    """IPython's ``@magic_arguments()``, building the parser and its help text on first use.

    IPython builds both when the class is defined, so every ``%load_ext`` paid for all the magics'
    ~90 options (about 10 ms). ``?`` reads the help through IPython's ``getdoc`` hook.
    """

    def __call__(self, func: Any) -> Any:
        """Mark ``func`` as taking declared arguments; its ``parser`` is built when first used."""
        if not getattr(func, "has_arguments", False):
            func.has_arguments = True
            func.decorators = []
        if self.name is not None:
            func.argcmd_name = self.name
        func.parser = _LazyParser(func)
        func.getdoc = lambda: func.parser.format_help()
        return func


class _LazyParser:
    """Stands for a magic's argument parser, building it (IPython's way) on the first attribute read."""

    def __init__(self, func: Any) -> None:
        self._func = func
        self._parser: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._parser is None:
            self._parser = ipython_arguments.construct_parser(self._func)
        return getattr(self._parser, name)


def declared(arguments: Sequence[Declare]) -> Declare:
    """A decorator declaring ``arguments`` on a magic, in the order given (the help lists them so)."""

    def declare_all(magic: Any) -> Any:
        for declare in reversed(arguments):
            magic = declare(magic)
        return magic

    return declare_all


REQUEST = {
    "model": argument(
        "-m",
        "--model",
        help="Model id, e.g. claude-4-5-sonnet (default: panel, config, then INFERENCE_MODEL_ID).",
    ),
    "system": argument(
        "-s", "--system", metavar="TEXT", help="System prompt (kept for the rest of the conversation)."
    ),
    "temperature": argument(
        "-t", "--temperature", type=float, help="Sampling temperature, 0-1 (not with --top-p or --thinking)."
    ),
    "top_p": argument(
        "--top-p", type=float, help="Nucleus sampling, (0-1] (not with --temperature or --thinking)."
    ),
    "top_k": argument("--top-k", type=int, help="Sample from the K most likely tokens."),
    "max_tokens": argument("--max-tokens", type=int, help="Maximum tokens to generate."),
    "stop": argument("--stop", metavar="SEQ", action="append", help="Stop sequence (repeatable, up to 4)."),
    "thinking": argument(
        "--thinking",
        metavar="BUDGET",
        nargs="?",
        type=int,
        const=1024,
        help="Extended thinking with this token budget (>= 1024; default 1024); the reasoning is shown.",
    ),
    "effort": argument("--effort", help="Reasoning effort: low, medium or high."),
    "json": argument(
        "--json", action="store_true", help="Ask for a JSON object; the parsed value is result.json()."
    ),
    "allow_ignored_params": argument(
        "--allow-ignored-params",
        action="store_true",
        help="Let Heroku ignore parameters it does not support instead of failing.",
    ),
    "developer": argument(
        "--developer", metavar="TEXT", help="A developer-role message, sent after the system prompt."
    ),
    "user": argument("--user", metavar="ID", help="An end-user id sent with the request (user)."),
    "metadata": argument(
        "--metadata",
        metavar="KEY=VALUE",
        action="append",
        help="Request metadata (repeatable; Heroku ignores it).",
    ),
    "logprobs": argument(
        "--logprobs",
        metavar="N",
        nargs="?",
        type=int,
        const=0,
        help="Ask for token log probabilities (and the N most likely alternatives, 0-20); shown under the answer.",
    ),
    "max_completion_tokens": argument(
        "--max-completion-tokens", type=int, help="OpenAI's newer name for --max-tokens (set one)."
    ),
    "hide_reasoning": argument(
        "--hide-reasoning",
        action="store_true",
        help="With --thinking: the model thinks, but the trace is neither sent back nor shown (include_reasoning false).",
    ),
    "extra": argument(
        "--extra",
        metavar="JSON",
        help="Fields sent as given, for what Heroku adds later: --extra '{\"field\": 1}'.",
    ),
    "addon": argument(
        "--addon", metavar="NAME", help="Config-var prefix of another attachment, e.g. INFERENCE_CYAN."
    ),
    "timeout": argument("--timeout", type=float, help="Seconds to wait for the response."),
    "retries": argument("--retries", type=int, help="Retries on rate limits and server errors."),
    "no_widgets": argument(
        "--no-widgets", action="store_true", help="Stream as plain text instead of live widgets."
    ),
}

request_arguments = declared(list(REQUEST.values()))
"""The request options of %%heroku_chat and %%heroku_explore."""

TOOLS = [
    argument(
        "--tools",
        metavar="NAMES",
        help="Tools the model may call: functions of the notebook or registered ones, comma-separated; 'all' for every registered tool, 'none' for none (default: the panel's).",
    ),
    argument(
        "--tool-choice",
        metavar="CHOICE",
        help="auto (the model decides), none, required (at least one call), or a tool's name.",
    ),
    argument(
        "--parallel-tools",
        dest="parallel_tools",
        action="store_const",
        const=True,
        default=None,
        help="Let the model call several tools at once (they run concurrently).",
    ),
    argument(
        "--no-parallel-tools",
        dest="parallel_tools",
        action="store_const",
        const=False,
        help="One tool call per step.",
    ),
    argument("--max-tool-rounds", type=int, metavar="N", help="Times tools may run in one turn (default 8)."),
    argument("--tool-timeout", type=float, metavar="SECONDS", help="Seconds a tool may run (default 60)."),
    argument("--confirm", action="store_true", help="Ask before each tool call runs (Approve/Deny buttons)."),
]

tool_arguments = declared(TOOLS)
"""The Python-tool options of %%heroku_chat."""

IMAGES = [
    argument(
        "--image",
        metavar="IMAGE",
        action="append",
        help="An image sent with the cell (repeatable): a file, an http(s) URL, or a notebook variable holding bytes, a PIL image, a matplotlib figure or an IPython Image ('plt': pyplot's current figure). PNG, JPEG, GIF or WebP, up to 5 MB (downscaled with Pillow).",
    ),
    argument(
        "--image-url-as-is",
        action="store_true",
        help="Send --image URLs as URLs instead of downloading and inlining them (Bedrock's models need them inlined).",
    ),
]
image_arguments = declared(IMAGES)
"""The images of %%heroku_chat."""

CONVERSATION = [
    argument(
        "-c",
        "--conversation",
        metavar="NAME",
        help="Conversation to continue (default: the panel's, else one per kernel).",
    ),
    argument("--new", action="store_true", help="Start the conversation afresh."),
    argument("--no-history", action="store_true", help="A one-off turn: no history sent, nothing recorded."),
    argument(
        "--out", metavar="VAR", help="Store the ChatResult (every step, call and result) in this variable."
    ),
]
conversation_arguments = declared(CONVERSATION)
"""Which conversation a turn continues, and where its result goes."""

AGENT = [
    argument(
        "--tool",
        dest="heroku_tools",
        metavar="NAME",
        action="append",
        help="A Heroku tool the agent may run (repeatable): dyno_run_command, code_exec_python, pg_psql, ... (%%heroku_tools lists them).",
    ),
    argument(
        "--mcp",
        metavar="NAME",
        action="append",
        help="An MCP tool (namespaced, e.g. mcp-brave/brave_web_search) or a server's namespace for all its tools (repeatable).",
    ),
    argument(
        "--app", metavar="APP", help="The app whose dynos and databases Heroku tools use (target_app_name)."
    ),
    argument(
        "--dyno-size",
        metavar="SIZE",
        help="Dyno size for the tools' one-off dynos (Heroku's default: standard-1x).",
    ),
    argument(
        "--ttl",
        type=int,
        metavar="SECONDS",
        help="Seconds a tool's dyno may live, at most 120 (Heroku's default).",
    ),
    argument(
        "--max-calls",
        type=int,
        metavar="N",
        help="Times each tool may be called in the run (Heroku's default: 3).",
    ),
    argument(
        "--tool-param",
        metavar="KEY=VALUE",
        action="append",
        help="A tool parameter for every Heroku tool (cmd=..., db_attachment=...), or NAME.KEY=VALUE for one tool (repeatable).",
    ),
    REQUEST["model"],
    REQUEST["system"],
    REQUEST["temperature"],
    REQUEST["top_p"],
    argument(
        "--max-tokens",
        type=int,
        help="Maximum tokens per model call of the run (max_tokens_per_inference_request).",
    ),
    REQUEST["stop"],
    REQUEST["addon"],
    REQUEST["timeout"],
    argument(
        "--retries",
        type=int,
        help="Times to send the run again after a 429 (nothing ran yet); never after it started.",
    ),
    REQUEST["no_widgets"],
]
agent_arguments = declared(AGENT)
"""The options of %%heroku_agent: its tools, their runtime parameters, and the sampling it takes."""
