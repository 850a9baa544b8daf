#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (a .venv with the project and its
# test tools; Debian's Chromium for the browser tests), then runs unit, HTTP, kernel, launcher,
# browser and notebook (nbval) tests. Nothing touches the internet: the tests start their own
# simulator and JupyterLab on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=dev . scripts/venv.sh

if [ ! -x /usr/lib/chromium/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Debian's Chromium for the browser tests..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is missing and cannot be installed here: the browser tests will be skipped." >&2
  fi
fi

python -m pytest -p no:cacheprovider tests "$@"
python -m pytest -p no:cacheprovider --nbval notebooks/ --nbval-sanitize-with notebooks/nbval-sanitize.cfg
