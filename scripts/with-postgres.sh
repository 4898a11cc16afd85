#!/usr/bin/env bash
# Runs a command with DATABASE_URL pointing at a Postgres server that answers
# (the caller's DATABASE_URL, else a private cluster this script starts if
# needed and the last of its users stops; see pg-users.sh). Tests create and
# drop their own databases on that server.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/pg-users.sh"
pg_users_join
url=$(pg_users_start postgres)
export DATABASE_URL=$url DSAR_TEST_DATABASE_URL=$url
status=0
"$@" 8>&- || status=$?
pg_users_leave
exit $status
