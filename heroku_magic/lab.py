"""``python -m heroku_magic.lab``: JupyterLab on a notebook, against Heroku or the local simulator.

With ``INFERENCE_URL`` and ``INFERENCE_KEY`` set, JupyterLab's kernels talk to Heroku. Otherwise a
simulator of the Heroku API starts in this process for as long as JupyterLab runs, and the kernels
inherit variables that point at it. Arguments after the notebook go to ``jupyter lab``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from types import FrameType

from .config import DEFAULT_ATTACHMENT, mask_key
from .simulator import Simulator, SimulatorConfig


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m heroku_magic.lab",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        epilog="example: python -m heroku_magic.lab notebooks/quickstart.ipynb --no-browser --port 8888",
    )
    parser.add_argument(
        "notebook",
        nargs="?",
        default="notebooks/quickstart.ipynb",
        help="notebook to open (default: %(default)s)",
    )
    parser.add_argument(
        "--simulator", action="store_true", help="use the local simulator even when INFERENCE_URL/KEY are set"
    )
    parser.add_argument(
        "--ttft",
        type=float,
        default=0.4,
        help="simulator: seconds before the first token (default: %(default)s)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=0.03,
        help="simulator: seconds between chunks (default: %(default)s)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run JupyterLab until it exits; returns its exit status."""
    args, lab_args = build_parser().parse_known_args(argv)
    env = dict(os.environ)
    url, key = env.get(f"{DEFAULT_ATTACHMENT}_URL"), env.get(f"{DEFAULT_ATTACHMENT}_KEY")
    simulator: Simulator | None = None
    if url and key and not args.simulator:
        print(f"heroku_magic: using Heroku Inference at {url} (key {mask_key(key)})", flush=True)
    else:
        simulator = Simulator(SimulatorConfig(port=0, ttft=args.ttft, interval=args.interval)).start()
        env.update(simulator.env())
        print(
            f"heroku_magic: INFERENCE_URL/INFERENCE_KEY not set, so notebooks talk to the local simulator "
            f"at {simulator.url} (set them, e.g. from `heroku config --shell`, to use Heroku)",
            flush=True,
        )
    command = [sys.executable, "-m", "jupyter", "lab", args.notebook, *lab_args]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in lab_args:
        command.append("--allow-root")  # containers and CI machines often run as root
    lab = subprocess.Popen(command, env=env)

    def forward(signum: int, frame: FrameType | None) -> None:
        lab.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        while True:
            try:
                return lab.wait()
            except KeyboardInterrupt:
                lab.send_signal(signal.SIGINT)  # JupyterLab asks to confirm; a second Ctrl-C stops it
    finally:
        signal.signal(signal.SIGTERM, previous)
        if lab.poll() is None:
            lab.terminate()
            lab.wait(timeout=30)
        if simulator is not None:
            simulator.stop()


if __name__ == "__main__":
    sys.exit(main())
