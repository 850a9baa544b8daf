"""Helpers for the browser tests: the test notebook, and JupyterLab started and stopped as a subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

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
# Markdown answer (heading, paragraph, 3-item list, code block), 2 echoes HTML that must not run.
CELLS = (
    "%load_ext heroku_magic",
    f"%%heroku_chat --thinking 2048\n{CHAT_PROMPT}",
    f"%%heroku_chat --no-history\necho: {XSS_ANSWER}",
)
CHAT_CELL, XSS_CELL = 1, 2

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
)
CONTROLS_CELL, PANEL_CHAT_CELL, EXPLORE_CELL = 1, 2, 3


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

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log, for failure messages."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


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
def running_lab(base: Path, env: Mapping[str, str]) -> Iterator[Lab]:
    """JupyterLab on a free 127.0.0.1 port with a token, serving ``base/root`` (holding the notebooks).

    Configuration, runtime files and IPython's profile live under ``base`` too, so nothing of the
    user's setup is read or written. ``env`` is added to the server's (and so the kernels')
    environment. The process is polled while it starts and always stopped.
    """
    root, config_dir, runtime_dir, ipython_dir = (base / n for n in ("root", "config", "runtime", "ipython"))
    for folder in (root, config_dir, runtime_dir, ipython_dir):
        folder.mkdir(parents=True, exist_ok=True)
    write_lab_config(config_dir)
    write_notebook(root / NOTEBOOK)
    write_notebook(root / PANELS_NOTEBOOK, PANEL_CELLS)
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
