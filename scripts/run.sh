#!/usr/bin/env bash
# `make run`: the gateway in the foreground, on local PostgreSQL and Redis.
#
# With DATABASE_URL and REDIS_URL both set, those are used and nothing is started. Otherwise the
# "run" instance of scripts/services.sh is brought up (PostgreSQL 54329, Redis 63799) and stopped
# again when the gateway exits. Ctrl-C, SIGTERM and SIGHUP stop the gateway first (it receives
# SIGTERM), then the services. The rest of the environment (PORT, TEST_MODE, ...) passes through;
# SEED_TEST_MERCHANT and WEBHOOK_ALLOW_PRIVATE default to true here (and nowhere else).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

svc=scripts/services.sh
py=.venv/bin/python
started=

# shellcheck disable=SC2317 # called by the EXIT trap
stop_services() {
  if [[ -n $started ]]; then
    "$svc" down run || echo "run.sh: could not stop the services; try: $svc down run" >&2
  fi
}
trap stop_services EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [[ -n ${DATABASE_URL:-} && -n ${REDIS_URL:-} ]]; then
  echo "run.sh: using DATABASE_URL and REDIS_URL from the environment" >&2
else
  started=1
  urls=$("$svc" up run 54329 63799)
  while IFS= read -r line; do
    case $line in DATABASE_URL=* | REDIS_URL=*) export "${line?}" ;; esac
  done <<<"$urls"
fi

# The demo merchant of the README (key_test_abc123 / secret_test_xyz789, test@example.com), so
# that a first run has an account to try: a machine of one's own, on loopback. A real
# deployment never sets this (README "First run"); SEED_TEST_MERCHANT=false here turns it off.
export SEED_TEST_MERCHANT="${SEED_TEST_MERCHANT:-true}"
# Webhook endpoints on loopback, such as the one `paystate listen` registers (README "First
# run"): the gateway is on this machine for its developer. WEBHOOK_ALLOW_PRIVATE=false turns it off.
export WEBHOOK_ALLOW_PRIVATE="${WEBHOOK_ALLOW_PRIVATE:-true}"

"$py" -m paystate migrate
"$py" -m paystate seed

# Not exec: the services must be stopped after the gateway exits. In the background so that a
# SIGTERM sent to this script alone is not held back until the gateway exits by itself; a
# background child starts with SIGINT ignored, so every stop signal reaches it as SIGTERM.
"$py" -m paystate serve &
gateway=$!
trap 'kill -TERM "$gateway" 2>/dev/null || true' INT TERM HUP
while kill -0 "$gateway" 2>/dev/null; do
  wait "$gateway" || true # returns early when a trapped signal arrives
done
wait "$gateway" && rc=0 || rc=$?
exit "$rc"
