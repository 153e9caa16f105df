#!/usr/bin/env bash
# The project's test command (README, .ci/run): type check, lint, format check, then every test.
# It sets up what it needs first: Node 24, npm dependencies, and the services the tests talk to.
#   bash scripts/test.sh            everything
#   bash scripts/test.sh FILE...    only these test files (no lint)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. scripts/node24.sh
. scripts/deps.sh
. scripts/test-services.sh
# Edge nodes in tests run one process each unless a test passes --workers (docs/multicore.md).
export MERIDIAN_EDGE_WORKERS="${MERIDIAN_EDGE_WORKERS:-1}"
if [ $# -gt 0 ]; then
  exec node --test --test-concurrency=1 "$@"
fi
echo "== typecheck"; npx tsc -p . --noEmit
echo "== lint"; npx eslint --max-warnings 0 .
echo "== format"; npx prettier --check --log-level warn .
echo "== tests"
# Integration tests start real processes on loopback; run files one at a time so that their
# timings do not fight over the machine's two cores.
node --test --test-concurrency=1 --test-timeout=120000 'test/**/*.test.ts'
