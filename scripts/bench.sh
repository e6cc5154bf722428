#!/usr/bin/env bash
# `make bench` / `make bench-http`: a benchmark script against its own PostgreSQL (54349) and
# Redis (63819), stopped afterwards. Usage: scripts/bench.sh SCRIPT [ARGS...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

svc=scripts/services.sh
trap '"$svc" down bench || true' EXIT

urls=$("$svc" up bench 54349 63819)
while IFS= read -r line; do
  case $line in DATABASE_URL=* | REDIS_URL=*) export "${line?}" ;; esac
done <<<"$urls"

script=$1
shift
.venv/bin/python "$script" "$@"
