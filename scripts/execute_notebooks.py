"""Re-execute notebooks against a fresh local simulator and save their outputs (the nbval reference).

Usage: python scripts/execute_notebooks.py notebooks/quickstart.ipynb [...]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from heroku_magic.simulator import Simulator, SimulatorConfig


def execute(path: Path) -> None:
    """Run every cell of ``path`` against the simulator and write the outputs back."""
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    # Widget state changes on every run and viewers fall back to the static outputs: don't keep it.
    notebook.metadata.pop("widgets", None)
    nbformat.write(notebook, path)


def main() -> None:
    """Execute each notebook named on the command line."""
    with Simulator(SimulatorConfig(port=0)) as sim:
        os.environ.update(sim.env())
        for name in sys.argv[1:]:
            execute(Path(name))
            print(f"executed {name}")


if __name__ == "__main__":
    main()
