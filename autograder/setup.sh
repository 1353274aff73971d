#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image. Written for the
# default base image, Ubuntu 22.04 (python3 is 3.10; no python3-venv, no pip), and newer ones.
#
# 1. Python: the first of python3.13 ... python3.10, python3 that is 3.10 to 3.13 (the Pythons
#    requirements.txt is resolved for: its python_version markers pick 3.10's or 3.11+'s pins);
#    if there is none, apt-get installs python3. A5KIT_SETUP_PYTHON names one to use instead.
# 2. A venv in $ROOT/venv (apt-get installs pythonX.Y-venv if venv cannot bootstrap pip).
# 3. pip, torch (CPU build where PyTorch's index answers, else the registry's; it says which),
#    the pinned grader packages, the a5kit wheel of this archive.
# 4. The unprivileged user the student notebooks run as; hidden files locked away from it.
# Each step prints what it installs and how long it took; a failure prints one line saying why.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$ROOT/venv"
PIP_PIN="pip==26.3"  # supports Python 3.10+; Ubuntu 22.04's bundled pip 22.0 is older
STARTED=$SECONDS

fail() { echo "setup.sh: FAILED: $*" >&2; exit 1; }
step() { STEP="$1"; STEP_T0=$SECONDS; echo "setup.sh: $STEP ..."; }
step_done() { echo "setup.sh: $STEP: done in $((SECONDS - STEP_T0)) s"; }
as_root() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }
apt_install() { DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }

# A usable interpreter: runs, is 3.10 to 3.13.
usable() { "$1" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 13))' >/dev/null 2>&1; }

find_python() {
    local name path
    for name in ${A5KIT_SETUP_PYTHON:-} python3.13 python3.12 python3.11 python3.10 python3; do
        path="$(command -v "$name" 2>/dev/null)" || continue
        if usable "$path"; then echo "$path"; return 0; fi
    done
    return 1
}

describe_python3() {
    if command -v python3 >/dev/null; then python3 --version 2>&1 | head -n 1; else echo "no python3 on PATH"; fi
}

step "finding Python 3.10 to 3.13"
if ! PYTHON="$(find_python)"; then
    if as_root; then
        echo "setup.sh: none on PATH ($(describe_python3)); installing python3 with apt-get"
        apt_install python3 python3-venv || true
    fi
    PYTHON="$(find_python)" || fail "no Python 3.10 to 3.13 found ($(describe_python3)) and apt-get could not install one; choose Gradescope's Ubuntu 22.04 base image or newer"
fi
PY_VERSION="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
echo "setup.sh: using $PYTHON ($("$PYTHON" --version 2>&1))"
step_done

step "creating the venv $VENV with Python $PY_VERSION"
rm -rf "$VENV"
if ! "$PYTHON" -m venv "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    if as_root; then
        echo "setup.sh: $PYTHON cannot create a venv with pip; installing python$PY_VERSION-venv with apt-get"
        apt_install "python$PY_VERSION-venv" || true
    fi
    "$PYTHON" -m venv "$VENV" >/dev/null 2>&1 \
        || fail "$PYTHON cannot create a venv (on Ubuntu: apt-get install python$PY_VERSION-venv)"
fi
VPY="$VENV/bin/python"
"$VPY" -c 'import sys, ssl, sqlite3, venv; assert sys.prefix != sys.base_prefix' \
    || fail "the venv's Python $VPY does not work (it needs ssl and sqlite3)"
step_done

step "installing $PIP_PIN"
"$VPY" -m pip install --quiet --disable-pip-version-check "$PIP_PIN"
step_done

PIP=("$VPY" -m pip install --quiet --disable-pip-version-check --progress-bar off)
# The torch pin that applies to this Python (lines may carry a python_version marker).
TORCH_PIN="$("$VPY" - "$SOURCE/requirements.txt" <<'EOF'
import re, sys
from pip._vendor.packaging.markers import Marker
for line in open(sys.argv[1]):
    req, _, marker = line.strip().partition(";")
    if re.match(r"torch==", req) and (not marker.strip() or Marker(marker).evaluate()):
        print(req.strip())
EOF
)"
if [ -n "$TORCH_PIN" ]; then
    step "installing $TORCH_PIN (the CPU build from download.pytorch.org/whl/cpu if it can be reached)"
    # The CPU build is a tenth of the download; the grade is the same with either build (the kernel
    # has no address-space cap that the CUDA build's reservations could exceed).
    if ! "${PIP[@]}" --no-deps --index-url https://download.pytorch.org/whl/cpu "$TORCH_PIN" 2>/dev/null; then
        echo "setup.sh: PyTorch's CPU index could not be reached; installing $TORCH_PIN from the default index instead (on Linux x86_64 the CUDA build, about 3 GB)"
        "${PIP[@]}" "$TORCH_PIN" || fail "pip could not install $TORCH_PIN for Python $PY_VERSION (see pip's message above)"
    fi
    TORCH_BUILD="$(cd / && "$VPY" -W ignore -c 'import torch; print(torch.__version__, "(CUDA %s build)" % torch.version.cuda if torch.version.cuda else "(CPU build)")')" \
        || fail "torch was installed but does not import (see the error above)"
    echo "setup.sh: torch $TORCH_BUILD installed"
    step_done
fi

COUNT="$(grep -cE '^[A-Za-z0-9]' "$SOURCE/requirements.txt")"
step "installing the grader pins for Python $PY_VERSION ($COUNT lines of requirements.txt)"
"${PIP[@]}" -r "$SOURCE/requirements.txt" || fail "pip could not install $SOURCE/requirements.txt for Python $PY_VERSION (see pip's message above)"
step_done

WHEEL="$(ls "$SOURCE"/a5kit-*.whl 2>/dev/null | head -n 1)"
[ -n "$WHEEL" ] || fail "no a5kit wheel in $SOURCE: rebuild the archive with make autograder"
BUILT_VERSION="$(basename "$WHEEL" | cut -d- -f2)"
step "installing $(basename "$WHEEL") (a5kit $BUILT_VERSION, the version this autograder was built with)"
"${PIP[@]}" --no-deps --force-reinstall "$WHEEL"
INSTALLED_VERSION="$(cd / && "$VPY" -c 'import a5kit; print(a5kit.__version__)')"
[ "$INSTALLED_VERSION" = "$BUILT_VERSION" ] \
    || fail "the venv imports a5kit $INSTALLED_VERSION, but the archive was built with $BUILT_VERSION"
step_done

echo "setup.sh: installed in $VENV (Python $PY_VERSION):"
"$VPY" -m pip list --format=freeze --disable-pip-version-check | sed 's/^/    /'

# grader.json through its one loader: checked against its schema, and its student user read
STUDENT_USER="$(cd / && "$VPY" -m a5kit.grader.settings "$SOURCE/grader.json" --get user)" \
    || fail "$SOURCE/grader.json is not valid (see above): rebuild the archive with make autograder"
if [ "$(id -u)" = 0 ]; then
    step "creating the user $STUDENT_USER and locking tests/ and expected/ away from it"
    id -u "$STUDENT_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$STUDENT_USER"
    chmod 700 "$SOURCE/tests" "$SOURCE/expected"
    chmod -R a+rX "$SOURCE/cache" "$VENV"
    step_done
fi
echo "setup.sh: a5kit $INSTALLED_VERSION autograder installed in $VENV in $((SECONDS - STARTED)) s; notebooks will run as $STUDENT_USER"
