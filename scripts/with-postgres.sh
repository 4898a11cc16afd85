#!/usr/bin/env bash
# Runs a command with DATABASE_URL pointing at a Postgres server that answers
# (the caller's DATABASE_URL, else a private cluster this script starts and,
# if it started it, stops again afterwards). Tests create and drop their own
# databases on that server.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
running_before=""
"$root/scripts/postgres.sh" running && running_before=yes
url=$("$root/scripts/postgres.sh" start postgres)
started=""
if [ "$url" != "${DATABASE_URL:-}" ] && [ -z "$running_before" ]; then started=yes; fi
export DATABASE_URL=$url DSAR_TEST_DATABASE_URL=$url
status=0
"$@" || status=$?
if [ -n "$started" ]; then "$root/scripts/postgres.sh" stop || true; fi
exit $status
