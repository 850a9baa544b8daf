#!/usr/bin/env bash
# The main job: JupyterLab on the quickstart notebook. Heroku when INFERENCE_URL/INFERENCE_KEY are
# set, the built-in simulator otherwise. Extra arguments go to `jupyter lab` (e.g. --no-browser).
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=lab . scripts/venv.sh
exec python -m heroku_magic.lab notebooks/quickstart.ipynb "$@"
