#!/usr/bin/env bash
# `make bench*`: a benchmark script against its own PostgreSQL (54349) and Redis (63819), created
# empty for the run and stopped afterwards. Usage: scripts/bench.sh SCRIPT [ARGS...]
# PAYSTATE_BENCH_PG_PORT / PAYSTATE_BENCH_REDIS_PORT move the pair, so that a worktree can
# bench while another one does.
# Empty, because what earlier runs left behind is load too: thousands of webhooks still being
# retried to a receiver that is gone would take CPU from the gateway under test.
# The instance loads pg_stat_statements (services.sh up --stat-statements), so that a bench can
# say which statements PostgreSQL's time goes to (bench/pg_statements.py); every bench pays its
# small cost alike.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

svc=scripts/services.sh
trap '"$svc" down bench || true' EXIT
"$svc" clean bench

urls=$("$svc" up bench "${PAYSTATE_BENCH_PG_PORT:-54349}" "${PAYSTATE_BENCH_REDIS_PORT:-63819}" \
  --stat-statements)
while IFS= read -r line; do
  case $line in DATABASE_URL=* | REDIS_URL=*) export "${line?}" ;; esac
done <<<"$urls"

script=$1
shift
.venv/bin/python "$script" "$@"
