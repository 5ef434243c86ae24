#!/usr/bin/env bash
# `npm test`: set-up of system tools, type check, build, then every test file with node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/setup.sh
npx tsc --noEmit -p .
# The CLI runs dist/ only while it matches the sources: build it, so the tests run what users run.
node bin/build.js
# A zone 14 hours ahead of UTC (20 ahead of Chicago): at the tests' fixed clock it is already the
# next day there, so any code that leans on the machine's zone instead of America/Chicago shows up.
export TZ=Pacific/Kiritimati
exec node --import tsx --test --test-concurrency=2 "$@" test/*.test.ts
