#!/usr/bin/env bash
# Install (Debian packages) and start a local PostgreSQL for the tests; print its URL.
set -euo pipefail
DB=${TEST_POSTGRES_DB:-modelcatalog_test}
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
fi
VERSION=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | grep -q "^$VERSION main"; then
    pg_createcluster "$VERSION" main >&2
fi
pg_ctlcluster "$VERSION" main start >&2 2>/dev/null || true
for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 && break
    sleep 1
done
as_postgres() { if [ "$(id -u)" = 0 ]; then su postgres -c "$1"; else sudo -u postgres sh -c "$1"; fi; }
as_postgres "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" >&2
as_postgres "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='$DB'\"" | grep -q 1 \
    || as_postgres "createdb $DB" >&2
echo "postgresql+psycopg://postgres:postgres@127.0.0.1:5432/$DB"
