"""binder/start: with no Heroku variables it starts the simulator and exports variables pointing at it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BINDER = Path(__file__).resolve().parents[1] / "binder"


def test_start_exports_a_running_simulator_and_execs_the_command(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFERENCE_")}
    env["TMPDIR"] = str(tmp_path)  # the env file and log land here, naming this test's simulator
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"  # the python Binder would use
    probe = (
        "import json, os, urllib.request; "
        "u = os.environ['INFERENCE_URL']; "
        "print(json.dumps([os.environ['INFERENCE_MODEL_ID'], "
        "len(json.load(urllib.request.urlopen(u + '/available-models', timeout=5)))]))"
    )
    out = subprocess.run(
        ["bash", str(BINDER / "start"), sys.executable, "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    model, count = json.loads(out.stdout.strip().splitlines()[-1])
    assert model == "claude-4-5-sonnet" and count > 5
    assert (tmp_path / "heroku-simulator.log").exists()
    # binder/start leaves the simulator running for JupyterLab, as Binder needs; stop only this one.
    subprocess.run(["pkill", "-f", f"heroku_magic.simulator --port 0 --env-file {tmp_path}/"], check=False)


def test_start_leaves_heroku_variables_alone() -> None:
    env = {**os.environ, "INFERENCE_URL": "https://us.inference.heroku.com", "INFERENCE_KEY": "inf-x"}
    out = subprocess.run(
        ["bash", str(BINDER / "start"), "printenv", "INFERENCE_URL"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.stdout.strip() == "https://us.inference.heroku.com"


def test_binder_files() -> None:
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    assert "-e ." in (BINDER / "requirements.txt").read_text()
    assert (BINDER / "start").read_text().rstrip().endswith('exec "$@"')
