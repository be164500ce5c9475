#!/usr/bin/env bash
# The action's install step: whatsable-cli in a virtual environment of its own (never the job's Python, which
# may be the system's), then its paths as step outputs for the run step.
set -euo pipefail

python="${INPUT_PYTHON:-python3}"
venv="${RUNNER_TEMP:?RUNNER_TEMP is not set (GitHub sets it)}/whatsable-venv"

if ! command -v "$python" >/dev/null 2>&1; then
    echo "::error title=whatsable::no Python at '$python': run actions/setup-python first, or set the python input"
    exit 7
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "::error title=whatsable::whatsable needs Python 3.11 or newer, and $python is $("$python" -V 2>&1): run actions/setup-python first"
    exit 7
fi

case "${INPUT_VERSION:-}" in
    "") spec="${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set (GitHub sets it)}" ;;  # this action's own copy
    latest) spec="whatsable-cli" ;;
    *) spec="whatsable-cli==${INPUT_VERSION}" ;;
esac

"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$spec"
{
    echo "python=$venv/bin/python"
    echo "whatsable=$venv/bin/whatsable"
} >>"${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set (GitHub sets it)}"
"$venv/bin/whatsable" --version
