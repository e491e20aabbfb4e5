#!/usr/bin/env bash
# Creates (or refreshes) a Python venv holding exactly the pinned packages of a
# requirements file; does nothing when the venv already matches it.
# Usage: Tools/make-venv.sh VENV_FOLDER REQUIREMENTS_FILE
set -euo pipefail
venv="$1"
requirements="$2"
if [[ -x "$venv/bin/python" ]] && cmp -s "$requirements" "$venv/requirements.txt"; then
    exit 0
fi
echo "creating the Python venv $venv from $requirements"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
cp "$requirements" "$venv/requirements.txt"
