"""``python -m heroku_magic.simulator``: run the simulator in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType

from .catalogue import DEFAULT_MODEL, find_model
from .server import Simulator
from .state import SimulatorConfig

DESCRIPTION = """\
Run a local simulator of the Heroku Managed Inference API (/v1/chat/completions with streaming,
reasoning and tool calls; /v1/agents/heroku with simulated Heroku and MCP tools, always streamed;
/v1/mcp/servers; /available-models). It prints the shell lines that point clients at it:

  export INFERENCE_URL=http://127.0.0.1:8000
  export INFERENCE_KEY=inf-simulator-key
  export INFERENCE_MODEL_ID=claude-4-5-sonnet

and serves until Ctrl-C or SIGTERM. Admin endpoints under /_simulator/ (faults, requests, reset,
config) let another process drive it; they need the same bearer key.
"""
EPILOG = """prompt directives (in the last user message):
  echo:<text>   answer exactly <text>, verbatim
  words:N       answer with N one-word chunks
  markdown:N    answer a long Markdown document in N one-word chunks
  a tool name   call that tool when the request offers tools (key=value sets arguments)
  N rounds      call the named tools again after each result, N rounds in all (default 1)
  malformed arguments / invalid arguments
                the first round's arguments are not JSON / break the schema; then good ones

agents (/v1/agents/heroku; nothing is ever executed, results are fakes):
  a tool name   the agent calls that offered tool (use a tool: the first one); N rounds as above
  cmd=..., query=..., url=..., packages=a,b, a fenced code block
                the tool's arguments (dyno_run_command, pg_psql, doc_reader, code_exec_*)
  tools         dyno_run_command, code_exec_python/ruby/node/go, pg_psql (read-only: writes
                fail), pg_vector_query, doc_reader, older names; MCP mcp-brave/brave_web_search
                and mcp-python/code_exec_python (GET /v1/mcp/servers also lists a disconnected
                mcp-weather); unknown tools answer "Tool '<name>' not found"
  max_calls     a call beyond a tool's runtime_params.max_calls (default 3) is an error result
"""


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(
        prog="heroku-simulator",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8000, help="port to bind; 0 picks a free one (default: %(default)s)"
    )
    parser.add_argument(
        "--key", default="inf-simulator-key", help="bearer key to accept (default: %(default)s)"
    )
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help="model offered as INFERENCE_MODEL_ID (default: %(default)s)"
    )
    parser.add_argument(
        "--ttft",
        type=_seconds,
        default=0.4,
        help="seconds before the first streamed chunk (default: %(default)s)",
    )
    parser.add_argument(
        "--interval",
        type=_seconds,
        default=0.03,
        help="seconds between streamed chunks (default: %(default)s)",
    )
    parser.add_argument(
        "--tool-latency",
        type=_seconds,
        default=0.5,
        help="seconds an agent's simulated tool 'runs' before its result (default: %(default)s)",
    )
    parser.add_argument(
        "--stream-usage-always",
        action="store_true",
        help="send usage on every stream's final chunk, not only with stream_options.include_usage",
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        metavar="PATH",
        help="once listening, write INFERENCE_URL/KEY/MODEL_ID as NAME=value lines to PATH",
    )
    return parser


def _seconds(text: str) -> float:
    """An argparse type: a number of seconds >= 0."""
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, not {text!r}")
    return value


def write_env_file(path: Path, env: dict[str, str]) -> None:
    """Write ``NAME=value`` lines atomically, so a script polling for the file never reads half of it."""
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent or ".", prefix=f".{path.name}.", delete=False
    ) as tmp:
        tmp.write("".join(f"{name}={value}\n" for name, value in env.items()))
    os.replace(tmp.name, path)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into the same clean shutdown as Ctrl-C."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the simulator until interrupted."""
    parser = build_parser()
    args = parser.parse_args(argv)
    info = find_model(args.model)
    if info is None or not info.is_chat:
        parser.error(f"--model must be a chat model of the simulated catalogue, not {args.model!r}")
    config = SimulatorConfig(
        key=args.key,
        ttft=args.ttft,
        interval=args.interval,
        tool_latency=args.tool_latency,
        host=args.host,
        port=args.port,
        model=args.model,
        stream_usage_always=args.stream_usage_always,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        sim = Simulator(config).start()
    except OSError as error:
        print(f"heroku-simulator: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    try:
        env = sim.env()
        for name, value in env.items():
            print(f"export {name}={shlex.quote(value)}")
        print(f"# Heroku simulator listening on {sim.url}; Ctrl-C to stop.", file=sys.stderr)
        sys.stdout.flush()
        if args.env_file is not None:
            write_env_file(args.env_file, env)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
