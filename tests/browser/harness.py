"""Helpers for the browser tests: the test notebook, and JupyterLab started and stopped as a subprocess."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from playwright.sync_api import Browser, Locator, Page

CHROMIUM = Path("/usr/lib/chromium/chromium")  # the real binary; /usr/bin/chromium is a wrapper script
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium keeps trying Google's hosts, which this network refuses.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAB_START_TIMEOUT = 45.0
LAB_STOP_TIMEOUT = 10.0
NOTEBOOK = "chat.ipynb"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

# The answer the XSS cell asks the simulator to echo back verbatim.
XSS_ANSWER = (
    "Injected: <script>window.__pwned = 1</script> and "
    '<img src=x onerror="window.__pwned = 2"> and '
    "![pixel](http://127.0.0.1:9/leak.png?q=secret) end of injected text."
)
CHAT_PROMPT = "How should a browser test watch an answer stream in?"
# The notebook's cells: 0 loads the extension, 1 streams reasoning then the simulator's default
# Markdown answer (heading, paragraph, 3-item list, code block), 2 echoes HTML that must not run
# (in the live view cell 1's widget served, given back to the kernel's pool), 3 counts the kernel's
# chat widgets.
CELLS = (
    "%load_ext heroku_magic",
    f"%%heroku_chat --thinking 2048\n{CHAT_PROMPT}",
    f"%%heroku_chat --no-history\necho: {XSS_ANSWER}",
    "from ipywidgets.widgets.widget import _instances\n"
    "from heroku_magic.widgets.live import ChatView\n"
    "print('chat widgets:', sum(isinstance(w, ChatView) for w in list(_instances.values())))",
)
CHAT_CELL, XSS_CELL, COUNT_CELL = 1, 2, 3

# The panels notebook (its own workspace, so it never shares the page with chat.ipynb): 0 loads the
# extension, 1 shows the controls panel, 2 is a chat cell that takes the panel's settings, 3 runs a
# 2 x 2 grid concurrently, each answer long enough (words:N) to stream for a few seconds.
PANELS_NOTEBOOK = "panels.ipynb"
PANELS_WORKSPACE = "panels"
EXPLORE_WORDS = 200
PANEL_CELLS = (
    "%load_ext heroku_magic",
    "%heroku_controls",
    "%%heroku_chat\nwords:40 after thinking it over",
    "%%heroku_explore --grid temperature=0,1 --grid model=claude-4-5-haiku,claude-4-5-sonnet"
    f" --concurrency 4\nAnswer with words:{EXPLORE_WORDS}",
    # No retries by the client: a 429 reaches the grid, which waits and sends the card again.
    "%%heroku_explore --retries 0 --grid temperature=0,1\nAnswer with words:60",
    # Interrupted by the test: max_tokens=3 finishes at once, the other streams for a minute.
    "%%heroku_explore --grid max_tokens=3,4000 --out stopped\nAnswer with words:3000",
)
CONTROLS_CELL, PANEL_CHAT_CELL, EXPLORE_CELL, RATE_LIMITED_CELL, STOPPED_CELL = 1, 2, 3, 4, 5

# The tools notebook (its own workspace): 0 loads the extension, 1 defines two tools that record
# each call in ``ran`` (get_weather sleeps a little, so its card is seen running), 2 lets the model
# call get_weather, 3 names both tools with --confirm (the test approves one and denies the other),
# 4 prints which tools ran.
TOOLS_NOTEBOOK = "tools.ipynb"
TOOLS_WORKSPACE = "tools"
TOOL_SLEEP = 0.5  # seconds get_weather takes
TOOL_CELLS = (
    "%load_ext heroku_magic",
    "import time\n"
    "import heroku_magic\n\n"
    "ran = []  # (tool, argument) of every call that ran\n\n\n"
    "@heroku_magic.tool\n"
    "def get_weather(city: str) -> dict:\n"
    '    """Current weather for a city."""\n'
    "    ran.append(('get_weather', city))\n"
    f"    time.sleep({TOOL_SLEEP})\n"
    '    return {"city": city, "temp": 21}\n\n\n'
    "@heroku_magic.tool\n"
    "def get_time(zone: str) -> str:\n"
    '    """The time of day in a time zone."""\n'
    "    ran.append(('get_time', zone))\n"
    '    return f"12:00 in {zone}"',
    "%%heroku_chat --no-history --tools get_weather\nWhat is the weather? get_weather city=Paris",
    "%%heroku_chat --no-history --tools get_weather,get_time --confirm\n"
    "get_weather city=Lyon and get_time zone=UTC",
    "print(ran)",
)
TOOL_DEFS_CELL, WEATHER_CELL, CONFIRM_CELL, RAN_CELL = 1, 2, 3, 4

# The agents notebook (its own workspace): 0 loads the extension, 1 runs two Heroku tools in one step
# (the simulator calls the tools the prompt names, in the prompt's order; ``cmd=ls`` is the dyno's
# command and the fenced block the code), 2 calls an MCP tool in two rounds (two steps of one card).
# test_agents.py writes it into the server's root and removes it after (test_attacks.py checks that
# the root holds only the notebooks above).
AGENTS_NOTEBOOK = "agents.ipynb"
AGENTS_WORKSPACE = "agents"
AGENT_CODE = "print(sum(range(10)))"
AGENT_CELLS = (
    "%load_ext heroku_magic",
    "%%heroku_agent --tool code_exec_python --tool dyno_run_command --app my-app\n"
    f"Check my app: run code_exec_python on this, then dyno_run_command cmd=ls\n```python\n{AGENT_CODE}\n```",
    "%%heroku_agent --mcp mcp-brave\nSearch the web with brave_web_search query=heroku, 2 rounds",
)
HEROKU_TOOLS_CELL, MCP_CELL = 1, 2

# The attacks notebook (its own workspace too): cells that ask the simulator to echo the attack
# classes of tests/test_safety.py. Each payload would set ``window.__pwned`` to its own number, fetch
# from ``leak`` (a recording server) or write a file through /api/contents, if it ever ran.
ATTACKS_NOTEBOOK = "attacks.ipynb"
ATTACKS_WORKSPACE = "attacks"
NO_LEAK_URL = "http://127.0.0.1:9"  # nothing listens on port 9 (discard)
PWNED = re.compile(r"__pwned=(\d+)")  # the payloads' markers, as they appear in the text shown
ECHO = "%%heroku_chat --no-history\necho: "
SHOWCASE_CELL, TEX_CELL = 1, 12  # 0 loads the extension (fast paints); 2-14 are one attack class each
THINKING_CELL, ATTACK_EXPLORE_CELL, HISTORY_CHAT_CELL, HISTORY_CELL = 15, 16, 17, 18
TOOL_ATTACK_DEFS_CELL, TOOL_ATTACK_CELL = 19, 20  # after the history: it is unchanged
# What the showcase cell asks for: math to typeset (inline and displayed) and code to highlight.
SHOWCASE = (
    "Euler: $e^{i\\pi}+1=0$, and in Python:\n\n"
    '```python\ndef inc(x: int) -> int:\n    """One more."""\n    return x + 1  # simple\n```\n\n'
    "$$\\int_0^1 x\\,dx = \\frac{1}{2}$$"
)


WAIT_WORDS = " ".join(["and", "the", "paragraph", "goes", "on"] * 8)  # 40 chunks: a second at 25 ms each


def _img(number: int) -> str:
    return f'<img src=x onerror="window.__pwned={number}">'


def attack_cells(leak: str = NO_LEAK_URL) -> tuple[str, ...]:
    """The attacks notebook's cells; ``leak`` is the URL every image or CSS fetch would go to."""
    links = (
        "[a](javascript\\:window.__pwned=11) [b](java&#115;cript:window.__pwned=12) "
        "[c](javascript&colon;window.__pwned=13) [d][r] <javascript:window.__pwned=14> "
        "[e](data:text/html,<script>window.__pwned=15</script>) [f](vbscript:window.__pwned=16)\n\n"
        "[r]: javascript:window.__pwned=17"
    )
    math = "\n\n".join(
        (
            "$\\href{javascript:window.__pwned=20}{click}$",
            "$$\\class{pwnclass}{y}$$",
            "$\\style{background:url(" + leak + "/style.png)}{x}$",
            "$\\cssId{pwnid}{y}$ $\\data{pwn=1}{y}$ $\\unicode{x41}$ $\\require{html}$",
            "$\\def\\h{\\hr}\\h ef{javascript:window.__pwned=21}{x}$",
            "a \\$x\\href{javascript:window.__pwned=22}{y}$ b",
            "\\(\\href{javascript:window.__pwned=23}{x}\\) \\[\\href{javascript:window.__pwned=24}{x}\\]",
            "\\begin{equation}\\href{javascript:window.__pwned=25}{x}\\end{equation}",
        )
    )
    raw = (
        f"<script>window.__pwned=30</script><style>*{{display:none}}</style><iframe src={leak}/frame>"
        '</iframe>\n\n<a href="javascript:window.__pwned=31">x</a> <svg onload=window.__pwned=32>\n\n'
        "<details open ontoggle=\"alert('pwned')\">a dialog</details>\n\n"
        f"| a | b |\n|---|---|\n| {_img(33)} | [x](javascript:window.__pwned=34) |"
    )
    xsrf = (  # with the page's _xsrf cookie, this PUT would write pwned.txt next to the notebook
        "<img src=x onerror=\"window.__pwned=60;fetch('/api/contents/pwned.txt',{method:'PUT',"
        "headers:{'X-XSRFToken':(document.cookie.match(/_xsrf=([^;]+)/)||[])[1]},"
        "body:JSON.stringify({type:'file',format:'text',content:'pwned'})})\">"
    )
    answers = (
        f"``a` {_img(1)}",  # backticks that don't balance
        f"`a\n\n{_img(2)}`",  # a code span across a blank line
        f"`a\n# heading {_img(3)}`",  # ... across a heading
        f"```a`b\n{_img(4)}\n```",  # a "fence" whose info string has a backtick
        f"- item\n\n  ```\n  {_img(5)}\n  ```\n{_img(6)}",  # a fence inside a list item
        f"```\x0b{_img(7)}\n```\n{_img(8)}",  # \x0b: a line break to splitlines(), not to Markdown
        f"text\u2028```\n{_img(9)}\n```\u2028{_img(10)}",
        f"$$\n\n![x]({leak}/dollars.png?q=secret)\n\n$$",  # $$ across a blank line
        f"\\$ ![x]({leak}/escaped.png?q=secret) $",  # an escaped dollar
        links,
        math,
        raw,
        xsrf,
    )
    cells = (
        # Paint every 5 ms (the scheduler's floor), not every 125 ms: a live view is not painted a last
        # time at the end (the static result replaces it), and these answers stream for 50-400 ms, so
        # at the default pace a payload near an answer's end would never reach the live view.
        "%load_ext heroku_magic\n%config HerokuMagics.paint_interval = 0.005",
        ECHO + SHOWCASE,
        *(ECHO + answer for answer in answers),
        # The reasoning quotes the prompt's first 60 characters, so it carries the image too.
        f"%%heroku_chat --no-history --thinking 2048\necho: {_img(40)}\n\n[x](javascript\\:window.__pwned=41)",
        # Words after the payload keep it on screen for a second: two cards and the chart's sketch
        # share the kernel, and on a loaded machine a payload shown for 25 ms was once never painted.
        f"%%heroku_explore --grid temperature=0,1\necho: ``a` {_img(50)} {WAIT_WORDS}\n\n"
        "$\\href{javascript:window.__pwned=51}{x}$",
        # Recorded in the conversation (no --no-history), so that %heroku_history shows it.
        f"%%heroku_chat\necho: {_img(70)} and [x](javascript&colon;window.__pwned=71) and $\\class{{pwnclass}}{{y}}$",
        "%heroku_history",
    )
    assert cells[TEX_CELL] == ECHO + math and cells[THINKING_CELL].startswith(
        "%%heroku_chat --no-history --thinking"
    )
    assert cells[ATTACK_EXPLORE_CELL].startswith("%%heroku_explore") and len(cells) == HISTORY_CELL + 1
    return cells + tool_attack_cells(leak)


def tool_page(leak: str = NO_LEAK_URL) -> str:
    """What a hostile web page says: what a tool that fetches pages hands back to the model."""
    return (
        f"{_img(80)} <script>window.__pwned=81</script> [click](javascript:window.__pwned=82) "
        f'<a href="javascript:window.__pwned=83">x</a> ![pixel]({leak}/tool.png?q=secret) '
        f"<iframe src={leak}/tool-frame></iframe>"
    )


def tool_attack_cells(leak: str = NO_LEAK_URL) -> tuple[str, str]:
    """The attacks notebook's tool cells: two tools that return a hostile page, then a turn that calls both.

    fetch_page returns the page as text; fetch_json returns it inside JSON (shown as a highlighted
    code block), next to a string that tries to close that block's fence. The page is also
    fetch_page's description, which ``%heroku_tools`` shows (so the first cell's static output holds
    every payload of its source, as the attacks tests expect of every cell).
    """
    page = tool_page(leak)
    define = (
        "import heroku_magic\n\n"
        f"PAGE = {page!r}\n\n\n"
        '@heroku_magic.tool(description="Fetch a web page. " + PAGE)\n'
        "def fetch_page(url: str) -> str:\n"
        "    return PAGE\n\n\n"
        '@heroku_magic.tool(description="Fetch a page as JSON.")\n'
        "def fetch_json(url: str) -> dict:\n"
        '    return {"url": url, "page": PAGE, "fence": "```\\n" + PAGE + "\\n```"}\n\n\n'
        "%heroku_tools"
    )
    chat = (
        "%%heroku_chat --no-history --tools fetch_page,fetch_json\n"
        "Summarize fetch_page url=/index.html and fetch_json url=/index.html"
    )
    return define, chat


class LabStartError(RuntimeError):
    """JupyterLab exited or did not answer in time."""


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab server."""

    url: str
    token: str
    root: Path
    log: Path

    def notebook_url(self, name: str = NOTEBOOK, workspace: str | None = None) -> str:
        """The URL that opens notebook ``name`` (relative to the root) in the lab UI.

        With ``workspace``, in that named workspace: it restores only what was opened in it.
        """
        where = f"/lab/workspaces/{workspace}" if workspace else "/lab"
        return f"{self.url}{where}/tree/{name}?token={self.token}"

    @property
    def data_dir(self) -> Path:
        """The server's JUPYTER_DATA_DIR (the notebook-signing key and the trust database)."""
        return self.root.parent / "data"

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log, for failure messages."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class RecordingServer:
    """An HTTP server on 127.0.0.1 that records every connection and request it gets (answering 404).

    Where the attacks notebook's images and CSS point: a request here means the page fetched
    something a model's answer asked for.
    """

    def __init__(self) -> None:
        self.requests: list[str] = []
        record = self.requests.append

        class Handler(http.server.BaseHTTPRequestHandler):
            def setup(self) -> None:
                super().setup()
                record("connection")  # even a connection that never sends a request

            def handle_one_request(self) -> None:
                super().handle_one_request()
                if self.requestline:
                    record(self.requestline)

            def do_GET(self) -> None:  # also HEAD, POST, ... through __getattr__ below
                self.send_error(404)

            def __getattr__(self, name: str) -> Any:
                if name.startswith("do_"):
                    return self.do_GET
                raise AttributeError(name)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the requests are recorded instead."""

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="recorder")

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_notebook(path: Path, sources: tuple[str, ...] = CELLS) -> None:
    """A Python 3 notebook with one code cell per source and no outputs."""
    notebook = new_notebook(cells=[new_code_cell(source) for source in sources])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, str(path))


def write_lab_config(config_dir: Path) -> None:
    """Page config that disables the announcements plugin (its news toast would cover the page)."""
    labconfig = config_dir / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    page_config = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}
    (labconfig / "page_config.json").write_text(json.dumps(page_config))


def _answers(url: str, token: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server (SIGTERM: it shuts its kernels down), then anything left in its process group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(LAB_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(LAB_STOP_TIMEOUT)
    # Kernels run in the server's own session (start_new_session): end any straggler by group id.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def running_lab(base: Path, env: Mapping[str, str], leak: str = NO_LEAK_URL) -> Iterator[Lab]:
    """JupyterLab on a free 127.0.0.1 port with a token, serving ``base/root`` (holding the notebooks).

    Configuration, data (the notebook-signing key), runtime files and IPython's profile live under
    ``base`` too, so nothing of the user's setup is read or written. ``env`` is added to the
    server's (and so the kernels') environment; ``leak`` is where the attacks notebook's images and
    CSS point. The process is polled while it starts and always stopped.
    """
    root, config_dir, data_dir, runtime_dir, ipython_dir = (
        base / n for n in ("root", "config", "data", "runtime", "ipython")
    )
    for folder in (root, config_dir, data_dir, runtime_dir, ipython_dir):
        folder.mkdir(parents=True, exist_ok=True)
    write_lab_config(config_dir)
    write_notebook(root / NOTEBOOK)
    write_notebook(root / PANELS_NOTEBOOK, PANEL_CELLS)
    write_notebook(root / ATTACKS_NOTEBOOK, attack_cells(leak))
    write_notebook(root / TOOLS_NOTEBOOK, TOOL_CELLS)
    port, token = free_port(), secrets.token_hex(16)
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    full_env = {
        **os.environ,
        **env,
        "JUPYTER_CONFIG_DIR": str(config_dir),
        # The notebook-signing key and trust database (a save signs the notebook) stay here too.
        "JUPYTER_DATA_DIR": str(data_dir),
        "JUPYTER_RUNTIME_DIR": str(runtime_dir),
        "IPYTHONDIR": str(ipython_dir),
    }
    lab = Lab(url=f"http://127.0.0.1:{port}", token=token, root=root, log=base / "lab.log")
    with lab.log.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=root, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + LAB_START_TIMEOUT
        while not _answers(lab.url, token):
            if process.poll() is not None:
                raise LabStartError(f"JupyterLab exited with code {process.returncode}:\n{lab.log_tail()}")
            if time.monotonic() > deadline:
                raise LabStartError(
                    f"JupyterLab did not answer within {LAB_START_TIMEOUT:.0f} s:\n{lab.log_tail()}"
                )
            time.sleep(0.1)
        yield lab
    finally:
        _stop(process)


# --- A notebook open in Chromium: run its cells, and watch a cell's live view from inside the page ---

KERNEL_READY_TIMEOUT_MS = 30_000
CELL_TIMEOUT = 30.0  # seconds for a cell to leave its result
SAMPLE_EVERY_MS = 30
CELL = ".jp-Notebook .jp-Cell"
STATIC = ".jp-Cell-outputArea > .jp-OutputArea-child > .jp-RenderedHTMLCommon"
PROMPT = ".jp-InputArea-prompt"  # the execution indicator: "[*]:" while the cell runs
ERRORS = (
    '.jp-Cell-outputArea [data-mime-type="application/vnd.jupyter.error"], '
    '.jp-Cell-outputArea [data-mime-type="application/vnd.jupyter.stderr"]'
)

# The notebook has ``cells`` cells and an idle kernel.
KERNEL_IDLE = """(cells) => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session
    && panel.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle' && !!panel.content && panel.content.widgets.length === cells;
}"""

# Select cell ``index`` alone and run it; with ``wait`` the promise resolves when it has finished.
RUN_CELL = """async ([index, wait]) => {
  const notebook = window.jupyterapp.shell.currentWidget.content;
  notebook.activeCellIndex = index;
  notebook.deselectAll();
  const done = window.jupyterapp.commands.execute('notebook:run-cell');
  if (wait) await done;
}"""

# Runs in the page: every ``every`` ms, what cell ``cellIndex``'s live view shows: its steps (and
# each step's answer text), and each tool card's step, summary, arguments, result and buttons.
SAMPLER = """([cellIndex, every, staticSelector, promptSelector]) => {
  window.__samples = [];
  const text = (el) => (el ? el.textContent : null);
  window.__sampler = setInterval(() => {
    const cell = window.jupyterapp.shell.currentWidget.content.widgets[cellIndex].node;
    const chat = cell.querySelector('.heroku-magic-chat');
    const done = !!cell.querySelector(staticSelector);
    if (!chat && !done) return;  // not started yet (at the end the live view leaves the cell)
    const steps = chat ? [...chat.querySelectorAll('.hm-step')] : [];
    window.__samples.push({
      t: Math.round(performance.now()),
      live: !!chat && chat.getClientRects().length > 0,
      done,
      prompt: text(cell.querySelector(promptSelector)),
      steps: steps.length,
      answer: chat ? [...chat.querySelectorAll('.hm-answer')].map((a) => a.textContent).join('') : '',
      answers: steps.map((step) => text(step.querySelector(':scope > .hm-answer')) || ''),
      cards: chat ? [...chat.querySelectorAll('details.hm-card-tool')].map((card) => {
        const result = card.querySelector(':scope > pre.hm-result');
        return {
          step: steps.indexOf(card.closest('.hm-step')),
          summary: text(card.querySelector(':scope > summary')),
          args: text(card.querySelector(':scope > pre.hm-args')),
          result: result && !result.hidden ? result.textContent : null,
          error: card.classList.contains('hm-error'),
          buttons: [...card.querySelectorAll('.hm-approval button')].map((b) => b.textContent),
          shown: card.getClientRects().length > 0,
        };
      }) : [],
    });
  }, every);
}"""
STOP_SAMPLER = "() => { clearInterval(window.__sampler); return window.__samples; }"

Sample = dict[str, Any]


@dataclass
class NotebookPage:
    """A notebook open in Chromium; ``failure_shot`` names the screenshot taken when a check fails."""

    page: Page
    lab: Lab
    artifacts: Path
    failure_shot: str = "browser-failure.png"

    def cell(self, index: int) -> Locator:
        """Cell ``index`` of the notebook."""
        return self.page.locator(CELL).nth(index)

    def static(self, index: int) -> Locator:
        """The static result (sanitized HTML) of cell ``index``."""
        return self.cell(index).locator(STATIC)

    def run(self, index: int, *, wait: bool) -> None:
        """Run one cell (``wait``: until it has finished; otherwise return at once)."""
        self.page.evaluate(RUN_CELL, [index, wait])

    def run_sampled(self, index: int, what: str, during: Callable[[], None] | None = None) -> list[Sample]:
        """Run cell ``index`` while sampling its live view, until its static result is shown.

        ``during`` (if given) is called once the cell has started, before waiting for its result:
        to act on the page (click a button...) while the cell runs.
        """
        self.page.evaluate(SAMPLER, [index, SAMPLE_EVERY_MS, STATIC, PROMPT])
        self.run(index, wait=False)
        if during is not None:
            during()
        self.wait_for(index, STATIC, what)
        self.page.wait_for_timeout(4 * SAMPLE_EVERY_MS)  # a few samples of the final state
        samples: list[Sample] = self.page.evaluate(STOP_SAMPLER)
        return samples

    def screenshot(self) -> Path:
        """Screenshot the page to the artifacts folder."""
        shot = self.artifacts / self.failure_shot
        self.page.screenshot(path=str(shot))
        return shot

    def fail(self, what: str) -> None:
        """Screenshot the page and fail with what the notebook shows and the server's log."""
        shot = self.screenshot()
        pytest.fail(
            f"{what} (screenshot {shot}):\n{self.text()}\n--- JupyterLab log ---\n{self.lab.log_tail()}"
        )

    def wait_for(self, index: int, selector: str, what: str) -> None:
        """Poll until cell ``index`` shows ``selector``; fail at once on an error output."""
        deadline = time.monotonic() + CELL_TIMEOUT
        cell = self.cell(index)
        while True:
            if self.page.locator(ERRORS).count():
                self.fail("a cell failed")
            if cell.locator(selector).count():
                return
            if time.monotonic() > deadline:
                self.fail(f"{what} did not appear within {CELL_TIMEOUT:.0f} s")
            self.page.wait_for_timeout(100)

    def check(self, condition: bool, what: str) -> None:
        """Fail (with a screenshot) unless ``condition``."""
        if not condition:
            self.fail(what)

    def text(self) -> str:
        """The end of what the notebook shows, for failure messages."""
        return str(self.page.evaluate("() => document.querySelector('.jp-Notebook').innerText"))[-3000:]


@contextlib.contextmanager
def open_notebook(
    browser: Browser,
    lab: Lab,
    artifacts: Path,
    name: str,
    workspace: str,
    cells: int,
    *,
    run_first: tuple[int, ...] = (0,),
    failure_shot: str = "browser-failure.png",
) -> Iterator[NotebookPage]:
    """Notebook ``name`` open in its own workspace (left sidebar collapsed), cells ``run_first`` run."""
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(lab.notebook_url(name, workspace=workspace))
        page.wait_for_function(KERNEL_IDLE, arg=cells, timeout=KERNEL_READY_TIMEOUT_MS)
        page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
        nb = NotebookPage(page=page, lab=lab, artifacts=artifacts, failure_shot=failure_shot)
        for index in run_first:
            nb.run(index, wait=True)
        if page.locator(ERRORS).count():
            nb.fail(f"setting up {name} failed (cells {run_first})")
        yield nb
    finally:
        context.close()


@contextlib.contextmanager
def own_notebook(
    browser: Browser,
    lab: Lab,
    artifacts: Path,
    name: str,
    workspace: str,
    sources: tuple[str, ...],
    *,
    run_first: tuple[int, ...] = (0,),
    failure_shot: str = "browser-failure.png",
) -> Iterator[NotebookPage]:
    """A notebook of ``sources`` written for one test module and open as `open_notebook` opens it; removed after."""
    path = lab.root / name
    write_notebook(path, sources)
    try:
        with open_notebook(
            browser,
            lab,
            artifacts,
            name,
            workspace,
            len(sources),
            run_first=run_first,
            failure_shot=failure_shot,
        ) as nb:
            yield nb
    finally:  # the page is closed: nothing saves it again
        path.unlink(missing_ok=True)
        (lab.root / ".ipynb_checkpoints" / f"{path.stem}-checkpoint.ipynb").unlink(missing_ok=True)


def describe_samples(samples: list[Sample], limit: int = 60) -> str:
    """The samples as compact lines (each change of what the view shows), for assertion messages."""
    lines, previous = [], None
    for sample in samples:
        cards = [(c["step"], c["summary"], c["result"] is not None, c["buttons"]) for c in sample["cards"]]
        answers = [answer[:50] for answer in sample.get("answers", ())]
        key = (sample["live"], sample["done"], sample["prompt"], sample["steps"], answers, cards)
        if key != previous:
            lines.append(
                f"{sample['t']}: live={key[0]} done={key[1]} prompt={key[2]} steps={key[3]} {answers} {cards}"
            )
            previous = key
    return "\n".join(lines[:limit])


def first_sample(samples: list[Sample], test: Callable[[Sample], Any], start: int = 0) -> int | None:
    """The index of the first sample from ``start`` on for which ``test(sample)`` holds."""
    return next((n for n in range(start, len(samples)) if test(samples[n])), None)
