#!/usr/bin/env bash
# Installs what the tests need beyond npm: Debian's hugo, chromium and sqlite3 (when missing and we
# are root), and datasette into the project's .venv. Safe to run again: it does nothing twice.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v hugo >/dev/null || missing+=(hugo)
command -v chromium >/dev/null || missing+=(chromium)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
command -v supervisord >/dev/null || missing+=(supervisor)
command -v ansible-playbook >/dev/null || missing+=(ansible-core)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${missing[*]} from Debian" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing ${missing[*]}; install them (Debian: sudo apt-get install ${missing[*]}) or the tests that need them are skipped" >&2
  fi
fi

if [ -x datasette/install.sh ]; then
  datasette/install.sh
fi

# deploy/k8s-check (the manifests' strict check in test/k3s.test.ts): its modules downloaded and the
# build cached here, once, rather than inside the timed tests. Without Go, those tests skip and say so.
if command -v go >/dev/null; then
  (cd deploy/k8s-check && go build -buildvcs=false -o /dev/null .)
fi
