"""The main job's launcher: JupyterLab with the simulator when no Heroku variables are set."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch(tmp_path: Path, env: dict[str, str], *extra: str) -> tuple[subprocess.Popen[str], int, Path]:
    port = free_port()
    log = tmp_path / "lab.log"
    env = {
        **env,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    command = [sys.executable, "-m", "heroku_magic.lab", "notebooks/quickstart.ipynb", *extra]
    command += [
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        "--IdentityProvider.token=t0ken",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True
    )
    return process, port, log


def wait_for_lab(process: subprocess.Popen[str], port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/api/status?token=t0ken", timeout=2
            ) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("JupyterLab did not start:\n" + log.read_text())


def stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("INFERENCE_")}


def test_without_heroku_variables_lab_runs_against_a_simulator_it_starts_and_stops(tmp_path: Path) -> None:
    process, port, log = launch(tmp_path, clean_env())
    try:
        wait_for_lab(process, port, log)
        url = re.search(r"local simulator at (http://127\.0\.0\.1:\d+)", log.read_text())
        assert url, log.read_text()
        with urllib.request.urlopen(url.group(1) + "/available-models", timeout=5) as response:
            assert any(m["model_id"] == "claude-4-5-sonnet" for m in json.load(response))
        # JupyterLab starts kernels (they inherit the environment that points at the simulator)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/kernels?token=t0ken", data=b"{}", method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.load(response)["name"]
    finally:
        assert stop(process) == 0 or process.returncode is not None
    with pytest.raises(OSError):
        urllib.request.urlopen(url.group(1) + "/available-models", timeout=2)  # the simulator stopped too


def test_with_heroku_variables_no_simulator_is_started(tmp_path: Path) -> None:
    env = {
        **clean_env(),
        "INFERENCE_URL": "https://us.inference.heroku.com",
        "INFERENCE_KEY": "inf-secret-key-9f3a",
    }
    process, port, log = launch(tmp_path, env)
    try:
        wait_for_lab(process, port, log)
        text = log.read_text()
        assert "using Heroku Inference at https://us.inference.heroku.com (key inf-…9f3a)" in text
        assert "simulator" not in text and "inf-secret-key-9f3a" not in text
    finally:
        stop(process)


def test_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "heroku_magic.lab", "--help"], capture_output=True, text=True, timeout=30
    )
    assert "INFERENCE_URL" in out.stdout and "--simulator" in out.stdout
