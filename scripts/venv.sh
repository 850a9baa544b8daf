# Sourced by the other scripts: make .venv if it is missing and install the project into it.
# EXTRAS picks the optional dependencies (default: lab).
python3 -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install --quiet --disable-pip-version-check -e ".[${EXTRAS:-lab}]"
