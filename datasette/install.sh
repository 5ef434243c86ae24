#!/usr/bin/env bash
# Installs datasette and its plugins into the project's own .venv from datasette/requirements.txt.
# Safe to run again: it does nothing when .venv already holds exactly these requirements (a hash of
# requirements.txt and the environment's Python version is kept in .venv), and installs again when
# either changed. When Python is missing it says so in one line and exits 1, changing nothing.
set -euo pipefail
script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$script")/.."

requirements=datasette/requirements.txt
venv=.venv
stamp="$venv/.vigil-datasette"
python="${VIGIL_PYTHON:-python3}"

say() { echo "datasette/install.sh: $*" >&2; }

fingerprint() { (cat "$requirements"; "$venv/bin/python" --version 2>&1) | sha256sum | cut -d' ' -f1; }

if [ -x "$venv/bin/datasette" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(fingerprint)" ]; then
  exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
  if ! command -v "$python" >/dev/null 2>&1; then
    say "$python not found: datasette needs Python 3.8 or newer (Debian: apt-get install python3 python3-venv), or set VIGIL_PYTHON to an interpreter"
    exit 1
  fi
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 8))' 2>/dev/null; then
    say "$("$python" --version 2>&1) is too old: datasette 0.65 needs Python 3.8 or newer (set VIGIL_PYTHON to a newer one)"
    exit 1
  fi
fi

# Two callers at once (the test set-up and `vigil serve`) must not install into one .venv together:
# take a lock, then look again, since the other caller may have finished the work meanwhile.
if command -v flock >/dev/null 2>&1 && [ -z "${VIGIL_INSTALL_LOCKED:-}" ]; then
  mkdir -p "$venv"
  VIGIL_INSTALL_LOCKED=1 exec flock "$venv/.install-lock" "$script" "$@"
fi

if [ ! -x "$venv/bin/python" ]; then
  say "creating $venv with $("$python" --version 2>&1)"
  if ! "$python" -m venv "$venv" >/dev/null 2>&1; then
    # A half-made environment would pass for a broken install next time: take it away again.
    rm -rf "$venv/bin" "$venv/lib" "$venv/lib64" "$venv/include" "$venv/pyvenv.cfg"
    say "could not create $venv: Python's venv module is missing (Debian: apt-get install python3-venv)"
    exit 1
  fi
fi

say "installing the $(grep -cE '^[A-Za-z]' "$requirements") pinned packages of $requirements into $venv"
rm -f "$stamp"
if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$requirements" >&2; then
  say "pip could not install $requirements (is PyPI reachable?); run datasette/install.sh again once it is"
  exit 1
fi
fingerprint >"$stamp"
say "ready: $("$venv/bin/datasette" --version)"
