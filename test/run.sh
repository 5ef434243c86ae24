#!/usr/bin/env bash
# `npm test`: set-up of system tools, type check, then every test file with node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/setup.sh
npx tsc --noEmit -p .
# Pinned so that any code leaning on the machine's zone instead of America/Chicago shows up.
export TZ=UTC
exec node --import tsx --test --test-concurrency=2 "$@" test/*.test.ts
