"""A local simulator of the Heroku Managed Inference API, for demos, notebooks and tests.

It serves the real HTTP contract (auth, validation errors, streaming and non-streaming chat,
reasoning, tool calls, usage, ``/available-models``, the agents endpoint with simulated Heroku and
MCP tools, ``/v1/mcp/servers``) with deterministic simulated models and fault injection. It
imports nothing from the rest of ``heroku_magic``, so the client is tested against an independent
implementation of the contract.

    with Simulator() as sim:
        client = openai.OpenAI(base_url=sim.url + "/v1", api_key=sim.key)

Prompt directives are documented in `heroku_magic.simulator.models` (tool calls and multi-round
turns in `heroku_magic.simulator.toolcalls`), the tool pairing rules it enforces in
`heroku_magic.simulator.pairing`, fault kinds in `heroku_magic.simulator.faults`, the agents
endpoint in `heroku_magic.simulator.agents` (its tools in `heroku_magic.simulator.agent_tools`,
MCP servers in `heroku_magic.simulator.mcp`). The per-model facts it enforces (thinking, vision,
tools, temperature with top_p, max tokens, parallel_tool_calls) are one table, with sources, in
`heroku_magic.simulator.catalogue`; request fields in `heroku_magic.simulator.validation`, thinking
in `heroku_magic.simulator.thinking`, images in `heroku_magic.simulator.images`. Streams carry usage
only when asked (``stream_options.include_usage``) unless ``SimulatorConfig.stream_usage_always``;
``python -m heroku_magic.simulator --help`` runs it as a command.
"""

from .faults import Fault
from .server import Simulator
from .state import RecordedRequest, SimulatorConfig

__all__ = ["Fault", "RecordedRequest", "Simulator", "SimulatorConfig"]
