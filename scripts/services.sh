#!/usr/bin/env bash
# Local PostgreSQL and Redis for Paystate, one pair per instance NAME ("run", "test", ...).
#
#   services.sh up    NAME PGPORT REDISPORT [--stat-statements]
#                                             create if absent, start if stopped, wait, print URLs
#   services.sh down  NAME                    stop both (already stopped is fine)
#   services.sh env   NAME PGPORT REDISPORT   print the URLs only
#   services.sh clean NAME                    down, then delete the instance's data
#
# `up` and `env` print exactly two lines on stdout: DATABASE_URL=... and REDIS_URL=...
# `up --stat-statements` (the bench instance only: it costs PostgreSQL a little CPU per
# statement) loads pg_stat_statements (shared_preload_libraries, compute_query_id on, track all,
# nested statements of functions and triggers too), creates the extension in the paystate
# database and lets the paystate role call pg_stat_statements_reset(). PostgreSQL restarts
# whenever an `up` asks for other settings than the running server has, in either direction.
# Both servers listen on 127.0.0.1 only; PostgreSQL trusts loopback connections.
#
# Data lives in .paystate/NAME/ at the repository root. PostgreSQL refuses to run as root, so
# as root it runs as the `postgres` user, which must be able to reach its data directory; when
# the repository sits in a folder that user cannot traverse (a CI clone under /root), the data
# goes to ${TMPDIR:-/tmp}/paystate-<uid>-<hash of the repo path>/NAME instead.
# Layout of an instance directory: pg/ (PGDATA), postgresql.log, redis/ (working dir),
# redis.pid, redis.log, .lock.
set -euo pipefail
umask 022

readonly DEADLINE_S=30
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
readonly ROOT
MY_UID=$(id -u)
readonly MY_UID
# Keep libpq's environment from redirecting our admin connections elsewhere.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGPASSWORD PGPASSFILE PGSERVICE PGOPTIONS PGDATA

die() { echo "services.sh: $*" >&2; exit 1; }

usage() {
  sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

is_root() { [[ $MY_UID -eq 0 ]]; }

# Run a command as the PostgreSQL server user: `postgres` when we are root, else ourselves.
# From / so that a cwd the postgres user cannot read does not break pg_ctl; without the lock's
# fd 9, which a daemon would otherwise inherit and hold for its whole life.
as_pg() {
  if is_root; then
    (cd / && runuser -u postgres -- "$@") 9>&-
  else
    (cd / && "$@") 9>&-
  fi
}

check_name() {
  [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || die "bad instance name '$1' (letters, digits, _ . -)"
}

check_port() {
  if ! [[ $1 =~ ^[0-9]+$ ]] || ((10#$1 < 1 || 10#$1 > 65535)); then die "bad port '$1'"; fi
}

print_urls() { # PGPORT REDISPORT
  echo "DATABASE_URL=postgresql://paystate:paystate@127.0.0.1:$1/paystate"
  echo "REDIS_URL=redis://127.0.0.1:$2/0"
}

# ---------------------------------------------------------------- where the data lives

repo_dir() { echo "$ROOT/.paystate/$1"; }

# Fallback parents, most preferred first (TMPDIR, then /tmp if TMPDIR is elsewhere).
fallback_bases() {
  local hash tmp
  hash=$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
  tmp=${TMPDIR:-/tmp}
  tmp=${tmp%/}
  echo "${tmp:-/tmp}/paystate-$MY_UID-$hash"
  [[ ${tmp:-/tmp} == /tmp ]] || echo "/tmp/paystate-$MY_UID-$hash"
}

# Every place an instance NAME may have been created, whether or not it exists.
candidate_dirs() {
  local base
  repo_dir "$1"
  while read -r base; do echo "$base/$1"; done < <(fallback_bases)
}

# Create DIR (and parents) world-traversable; refuse a pre-existing one that is not ours.
make_dir() {
  mkdir -p "$1"
  [[ -O $1 ]] || die "$1 exists but is not owned by $(id -un); remove it or set TMPDIR"
  chmod 755 "$1"
}

# True when the PostgreSQL server user can traverse to DIR and write in it.
pg_can_use() {
  is_root || return 0
  as_pg test -x "$1" && as_pg test -w "$1/pg" 2>/dev/null
}

# Pick (and create) the instance directory for `up`. Prints its canonical path.
choose_dir() {
  local name=$1 dir base
  dir=$(repo_dir "$name")
  # The repo root must be reachable by the server user before we litter it with .paystate/.
  if ! is_root || as_pg test -x "$ROOT"; then
    if [[ -w $ROOT ]] || [[ -d $dir ]]; then
      make_dir "$ROOT/.paystate"
      make_dir "$dir"
      prepare_pg_dir "$dir"
      if pg_can_use "$dir"; then (cd "$dir" && pwd -P); return; fi
    fi
  fi
  while read -r base; do
    # A parent the server user cannot traverse rules the base out before we create anything.
    if is_root && ! as_pg test -x "$(dirname "$base")"; then continue; fi
    make_dir "$base"
    make_dir "$base/$name"
    prepare_pg_dir "$base/$name"
    if pg_can_use "$base/$name"; then (cd "$base/$name" && pwd -P); return; fi
  done < <(fallback_bases)
  die "no data directory the postgres user can reach: tried $(repo_dir "$name") and $(fallback_bases | tr '\n' ' ')(set TMPDIR to a folder it can traverse)"
}

# The server user owns pg/ (initdb wants it 0700) and the log file pg_ctl appends to.
prepare_pg_dir() {
  local dir=$1
  mkdir -p "$dir/pg" "$dir/redis"
  touch "$dir/postgresql.log"
  if is_root; then
    if [[ $(stat -c %U "$dir/pg") != postgres ]]; then chown -R postgres:postgres "$dir/pg"; fi
    chown postgres:postgres "$dir/postgresql.log"
  fi
  chmod 700 "$dir/pg"
}

# Serialise up/down/clean of one instance; the lock is released when the script exits.
lock_instance() {
  exec 9>>"$1/.lock"
  flock -w "$DEADLINE_S" 9 || die "another services.sh holds $1/.lock"
}

# ---------------------------------------------------------------- tools

PG_BIN=
find_pg_bin() {
  local d best=
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]] || continue
    if [[ -z $best ]] || [[ $(printf '%s\n%s\n' "$best" "$d" | sort -V | tail -n1) == "$d" ]]; then
      best=$d
    fi
  done
  if [[ -z $best ]] && command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    best=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
  fi
  [[ -n $best ]] || die "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin and PATH); install them: apt-get install postgresql"
  PG_BIN=$best
}

pg_tool() { # NAME: the tool from PG_BIN, else from PATH
  if [[ -x $PG_BIN/$1 ]]; then echo "$PG_BIN/$1"; else command -v "$1" || die "$1 not found"; fi
}

ensure_redis() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return
  is_root || die "redis-server not found: install it (sudo apt-get install redis-server)"
  command -v apt-get >/dev/null || die "redis-server not found and apt-get is unavailable: install Redis 7"
  echo "services.sh: installing redis-server with apt-get..." >&2
  local log
  log=$(mktemp)
  if ! { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
         DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server; } </dev/null >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    rm -f "$log"
    die "apt-get install redis-server failed"
  fi
  rm -f "$log"
  command -v redis-server >/dev/null || die "redis-server still not found after installing"
}

ensure_pg_user() {
  is_root || return 0
  id -u postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' system user (apt-get install postgresql creates it)"
}

# ---------------------------------------------------------------- processes

# True when PID is a live process named COMM whose working directory is DIR. Servers chdir to
# their data directory, so this tells our server from a recycled pid or another instance.
is_our_proc() { # PID COMM DIR
  local pid=$1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$2" ]] || return 1
  [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$3" ]]
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Pids of any process still working in DIR (backends orphaned by a killed postmaster).
procs_in() {
  local p
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/cwd" 2>/dev/null) == "$1" ]] && echo "${p#/proc/}"
  done
  return 0
}

wait_until() { # SECONDS COMMAND...: poll COMMAND every 0.1 s until it succeeds or time runs out
  local end=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < end)) || return 1
    sleep 0.1
  done
}

not() { ! "$@"; }

# ---------------------------------------------------------------- PostgreSQL

pg_pid() { head -n1 "$1/pg/postmaster.pid" 2>/dev/null || true; }

pg_running() { is_our_proc "$(pg_pid "$1")" postgres "$1/pg"; }

pg_ready() { "$(pg_tool pg_isready)" -q -h 127.0.0.1 -p "$1" -d postgres -U postgres -t 1 >/dev/null 2>&1; }

pg_fail() { # DIR MESSAGE
  tail -n 20 "$1/postgresql.log" >&2 || true
  die "$2 (log: $1/postgresql.log)"
}

pg_init() {
  local dir=$1 log
  [[ -s $dir/pg/PG_VERSION ]] && return
  # A half-done initdb leaves a non-empty directory that initdb would refuse.
  find "$dir/pg" -mindepth 1 -delete
  log=$(mktemp)
  if ! as_pg "$PG_BIN/initdb" -D "$dir/pg" -U postgres -A trust -E UTF8 --no-locale \
      >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    die "initdb failed in $dir/pg"
  fi
  rm -f "$log"
  as_pg tee "$dir/pg/pg_hba.conf" >/dev/null <<'EOF'
# Written by scripts/services.sh: TCP on loopback only, trusted. No unix sockets.
# TYPE  DATABASE  USER  ADDRESS        METHOD
host    all       all   127.0.0.1/32   trust
host    all       all   ::1/128        trust
EOF
  printf "\ninclude_if_exists = 'paystate.conf'\n" | as_pg tee -a "$dir/pg/postgresql.conf" >/dev/null
}

# Writes the per-start settings; returns 0 when they changed.
pg_configure() { # DIR PGPORT STAT_STATEMENTS(0|1)
  local conf=$1/pg/paystate.conf want
  want=$(printf '%s\n' "# Written by scripts/services.sh on every 'up'." \
    "listen_addresses = '127.0.0.1'" "port = $2" "unix_socket_directories = ''")
  if (($3)); then
    want+=$(printf '\n%s' "shared_preload_libraries = 'pg_stat_statements'" \
      "compute_query_id = on" "pg_stat_statements.track = all")
  fi
  [[ -f $conf && $(cat "$conf") == "$want" ]] && return 1
  printf '%s\n' "$want" | as_pg tee "$conf" >/dev/null
  return 0
}

pg_start() { # DIR PGPORT STAT_STATEMENTS(0|1)
  local dir=$1 port=$2 changed=0 pid
  pg_init "$dir"
  pg_configure "$dir" "$port" "$3" && changed=1
  if pg_running "$dir"; then
    if ((changed)); then
      as_pg "$PG_BIN/pg_ctl" -D "$dir/pg" -m fast -w -t "$DEADLINE_S" -s stop >/dev/null ||
        pg_fail "$dir" "could not stop PostgreSQL to change its settings"
    else
      wait_until "$DEADLINE_S" pg_ready "$port" || pg_fail "$dir" "PostgreSQL runs but is not ready on port $port"
      return
    fi
  fi
  pid=$(pg_pid "$dir")
  if [[ -n $pid ]]; then
    # The postmaster is gone (kill -9, reboot): its backends notice and exit on their own, but
    # they hold the shared memory that a new postmaster would refuse to share.
    wait_until 10 not has_procs_in "$dir/pg" ||
      die "processes still running in $dir/pg after the postmaster died: $(procs_in "$dir/pg" | tr '\n' ' ')"
    rm -f "$dir/pg/postmaster.pid"
  fi
  port_in_use "$port" && die "port $port on 127.0.0.1 is already taken by another process"
  as_pg "$PG_BIN/pg_ctl" -D "$dir/pg" -l "$dir/postgresql.log" -w -t "$DEADLINE_S" -s start \
    >/dev/null 2>&1 || pg_fail "$dir" "PostgreSQL did not start on port $port"
  wait_until "$DEADLINE_S" pg_ready "$port" || pg_fail "$dir" "PostgreSQL is not accepting connections on port $port"
}

has_procs_in() { [[ -n $(procs_in "$1") ]]; }

pg_sql() { # PGPORT SQL [DATABASE]: run as the bootstrap superuser, print tuples only
  "$(pg_tool psql)" -X -w -q -tA -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d "${3:-postgres}" -c "$2"
}

pg_provision() { # PGPORT STAT_STATEMENTS(0|1)
  local port=$1
  if [[ -z $(pg_sql "$port" "SELECT 1 FROM pg_roles WHERE rolname = 'paystate'") ]]; then
    pg_sql "$port" "CREATE ROLE paystate LOGIN CREATEDB PASSWORD 'paystate'" >/dev/null
  fi
  if [[ -z $(pg_sql "$port" "SELECT 1 FROM pg_database WHERE datname = 'paystate'") ]]; then
    pg_sql "$port" "CREATE DATABASE paystate OWNER paystate" >/dev/null
  fi
  # A measuring tool, so here and not in the project's migrations. The extension needs a
  # superuser; its reset function is not granted to anyone by default.
  if (($2)); then
    if [[ -z $(pg_sql "$port" "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'" paystate) ]]; then
      pg_sql "$port" "CREATE EXTENSION pg_stat_statements" paystate >/dev/null
    fi
    pg_sql "$port" "GRANT EXECUTE ON FUNCTION pg_stat_statements_reset(oid, oid, bigint) TO paystate" \
      paystate >/dev/null
  fi
}

pg_stop() { # DIR
  local dir=$1
  [[ -s $dir/pg/PG_VERSION ]] || return 0
  if pg_running "$dir"; then
    as_pg "$PG_BIN/pg_ctl" -D "$dir/pg" -m fast -w -t "$DEADLINE_S" -s stop >/dev/null 2>&1 ||
      pg_fail "$dir" "PostgreSQL did not stop"
  fi
  # A pid file left by a dead postmaster would only confuse the next start.
  if [[ -f $dir/pg/postmaster.pid ]] && ! pg_running "$dir"; then rm -f "$dir/pg/postmaster.pid"; fi
}

# ---------------------------------------------------------------- Redis

redis_pid() { cat "$1/redis.pid" 2>/dev/null || true; }

redis_running() { is_our_proc "$(redis_pid "$1")" redis-server "$1/redis"; }

redis_ready() { # DIR PORT: our server answers on PORT
  redis_running "$1" && [[ $(redis-cli -h 127.0.0.1 -p "$2" ping 2>/dev/null) == PONG ]]
}

redis_start() { # DIR REDISPORT
  local dir=$1 port=$2
  if redis_running "$dir"; then
    redis_ready "$dir" "$port" && return
    redis_stop "$dir" # running on another port: restart on the requested one
  fi
  rm -f "$dir/redis.pid"
  port_in_use "$port" && die "port $port on 127.0.0.1 is already taken by another process"
  redis-server --bind 127.0.0.1 --port "$port" --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir/redis" \
    --save '' --appendonly no >/dev/null 2>&1 </dev/null 9>&- ||
    { tail -n 20 "$dir/redis.log" >&2 || true; die "redis-server did not start (log: $dir/redis.log)"; }
  wait_until "$DEADLINE_S" redis_ready "$dir" "$port" ||
    { tail -n 20 "$dir/redis.log" >&2 || true; die "Redis is not answering on port $port (log: $dir/redis.log)"; }
}

redis_stop() { # DIR
  local dir=$1 pid
  if redis_running "$dir"; then
    pid=$(redis_pid "$dir")
    # SIGTERM is a clean shutdown; with no save points configured nothing is written.
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_until 10 not redis_running "$dir"; then
      kill -KILL "$pid" 2>/dev/null || true
      wait_until 5 not redis_running "$dir" || die "redis-server (pid $pid) does not stop"
    fi
  fi
  rm -f "$dir/redis.pid"
}

# ---------------------------------------------------------------- commands

cmd_up() { # NAME PGPORT REDISPORT [--stat-statements]
  local name=$1 pgport=$2 redisport=$3 stat_statements=0 dir
  case ${4-} in
    '') ;;
    --stat-statements) stat_statements=1 ;;
    *) echo "services.sh: unknown option '$4'" >&2; usage ;;
  esac
  check_name "$name"
  check_port "$pgport"
  check_port "$redisport"
  [[ $pgport != "$redisport" ]] || die "PGPORT and REDISPORT must differ"
  ensure_pg_user
  find_pg_bin
  ensure_redis
  dir=$(choose_dir "$name")
  lock_instance "$dir"
  pg_start "$dir" "$pgport" "$stat_statements"
  pg_provision "$pgport" "$stat_statements"
  redis_start "$dir" "$redisport"
  print_urls "$pgport" "$redisport"
}

cmd_down() { # NAME
  local name=$1 dir
  check_name "$name"
  while read -r dir; do
    [[ -d $dir ]] || continue
    dir=$(cd "$dir" && pwd -P)
    lock_instance "$dir"
    if [[ -s $dir/pg/PG_VERSION ]]; then
      ensure_pg_user
      find_pg_bin
      pg_stop "$dir"
    fi
    redis_stop "$dir"
  done < <(candidate_dirs "$name")
}

cmd_clean() { # NAME
  local name=$1 dir
  cmd_down "$name"
  while read -r dir; do
    [[ -d $dir ]] || continue
    rm -rf "$dir"
    rmdir "$(dirname "$dir")" 2>/dev/null || true # the .paystate/ or temp parent, once empty
  done < <(candidate_dirs "$name")
}

main() {
  (($# >= 1)) || usage
  local cmd=$1
  shift
  case $cmd in
    up) (($# == 3 || $# == 4)) || usage; cmd_up "$@" ;;
    down) (($# == 1)) || usage; cmd_down "$@" ;;
    env) (($# == 3)) || usage; check_name "$1"; check_port "$2"; check_port "$3"; print_urls "$2" "$3" ;;
    clean) (($# == 1)) || usage; cmd_clean "$@" ;;
    -h | --help | help) usage ;;
    *) echo "services.sh: unknown command '$cmd'" >&2; usage ;;
  esac
}

main "$@"
