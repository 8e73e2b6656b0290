#!/usr/bin/env bash
# Runs the whole test suite (unit, Docker, kernel and notebook tests) from a fresh checkout.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh" test
cd "$top"
set +e
"$top/.venv/bin/python" -m pytest "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
  echo "no tests were collected: that is a failure here" >&2
  exit 1
fi
exit "$status"
