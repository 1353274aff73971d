#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu base image with
# Python >= 3.11, e.g. Ubuntu 24.04). It installs the grader into its own venv, creates the
# unprivileged user the student notebooks run as, and locks the hidden files away from that user.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$ROOT/venv"
STUDENT_USER="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["user"])' "$SOURCE/grader.json")"

if ! command -v python3 >/dev/null || ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    apt-get update -q && apt-get install -y -q python3 python3-venv
fi
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# CPU-only torch: a third of the memory of the default CUDA build. Fall back to the registry.
TORCH_PIN="$(grep -E '^torch==' "$SOURCE/requirements.txt")"
"$VENV/bin/python" -m pip install --quiet --index-url https://download.pytorch.org/whl/cpu "$TORCH_PIN" \
    || "$VENV/bin/python" -m pip install --quiet "$TORCH_PIN"
"$VENV/bin/python" -m pip install --quiet -r "$SOURCE/requirements.txt"
"$VENV/bin/python" -m pip install --quiet --no-deps "$SOURCE"/a5kit-*.whl

if [ "$(id -u)" = 0 ]; then
    id -u "$STUDENT_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$STUDENT_USER"
    chmod 700 "$SOURCE/tests" "$SOURCE/expected"
    chmod -R a+rX "$SOURCE/cache" "$VENV"
fi
echo "a5kit autograder installed in $VENV; notebooks will run as $STUDENT_USER"
