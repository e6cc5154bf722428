#!/usr/bin/env bash
# `make test`: pytest against the "test" instance of scripts/services.sh (PostgreSQL 54339,
# Redis 63809), which is stopped afterwards whatever happens. Arguments go to pytest.
# PAYSTATE_TEST_PG_PORT / PAYSTATE_TEST_REDIS_PORT move the pair, so that two clones (or two
# git worktrees) can run their suites side by side.
# Exits with pytest's status.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

svc=scripts/services.sh

# shellcheck disable=SC2317 # called by the EXIT trap
stop_services() {
  "$svc" down test || echo "test.sh: could not stop the services; try: $svc down test" >&2
}
trap stop_services EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

urls=$("$svc" up test "${PAYSTATE_TEST_PG_PORT:-54339}" "${PAYSTATE_TEST_REDIS_PORT:-63809}")
while IFS= read -r line; do
  case $line in DATABASE_URL=* | REDIS_URL=*) export "${line?}" ;; esac
done <<<"$urls"
export PAYSTATE_TEST_SERVICES=1

# No path given: pytest runs its testpaths (tests/); paths narrow the run.
.venv/bin/python -m pytest -q "$@" && rc=0 || rc=$?
exit "$rc"
