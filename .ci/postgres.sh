#!/usr/bin/env bash
# Starts a local PostgreSQL (Debian's package) for the postgres: store tests and prints the URL.
# Only the URL goes to stdout: everything the tools say goes to stderr.
#
# The server is started with every standard stream on /dev/null or a log file, and with no other
# descriptor of ours open: a daemon that inherits the pipe of a `$(…)` around this script keeps
# that pipe open for ever, and the caller waits for ever (as a CI run once did).
set -euo pipefail
exec 3>&1 1>&2
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  # the package's install starts a server too: it gets no descriptor of ours either
  apt_log=$(mktemp)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } </dev/null >"$apt_log" 2>&1 3>&-; then
    cat "$apt_log"
    echo "could not install PostgreSQL" >&2
    exit 1
  fi
  rm -f "$apt_log"
fi
version=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version main"; then
  pg_createcluster "$version" main </dev/null >/dev/null 2>&1 3>&-
fi
start_log=$(mktemp)
if ! pg_ctlcluster "$version" main status </dev/null >/dev/null 2>&1 3>&-; then
  if ! pg_ctlcluster "$version" main start </dev/null >"$start_log" 2>&1 3>&-; then
    cat "$start_log"
    echo "PostgreSQL $version did not start" >&2
    exit 1
  fi
fi
rm -f "$start_log"
ready=
for _ in $(seq 1 30); do
  if su postgres -c "pg_isready -q" </dev/null 3>&-; then
    ready=1
    break
  fi
  sleep 1
done
if [ -z "$ready" ]; then
  echo "PostgreSQL $version is not accepting connections after 30 s" >&2
  exit 1
fi
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='stele'\"" </dev/null 3>&- | grep -q 1 ||
  su postgres -c "psql -qc \"CREATE ROLE stele LOGIN PASSWORD 'stele'\"" </dev/null 3>&-
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='stele'\"" </dev/null 3>&- | grep -q 1 ||
  su postgres -c "createdb -O stele stele" </dev/null 3>&-
echo "postgres://stele:stele@127.0.0.1:5432/stele" >&3
