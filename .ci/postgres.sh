#!/usr/bin/env bash
# Starts a local PostgreSQL (Debian's package) for the postgres: store tests and prints the URL.
# Only the URL goes to stdout: everything the tools say goes to stderr.
set -euo pipefail
exec 3>&1 1>&2
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version main"; then
  pg_createcluster "$version" main >/dev/null
fi
pg_ctlcluster "$version" main start 2>/dev/null || pg_ctlcluster "$version" main status >/dev/null
for _ in $(seq 1 30); do
  su postgres -c "pg_isready -q" && break
  sleep 1
done
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='stele'\"" | grep -q 1 ||
  su postgres -c "psql -qc \"CREATE ROLE stele LOGIN PASSWORD 'stele'\""
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='stele'\"" | grep -q 1 ||
  su postgres -c "createdb -O stele stele"
echo "postgres://stele:stele@127.0.0.1:5432/stele" >&3
