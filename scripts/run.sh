#!/usr/bin/env bash
# make run: everything up on embedded dev defaults, on a fresh machine.
#
# Builds the service and the Temporal dev server, makes sure Postgres answers
# (DATABASE_URL, else a private cluster under .data/), starts the Temporal dev
# server (SQLite under .data/, so workflows survive a restart), migrates, and
# runs `dsar all`. Ctrl-C (or SIGTERM to make) stops everything it started.
# Every default here yields to a variable you set yourself.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export DSAR_DATA_DIR=${DSAR_DATA_DIR:-$root/.data}
mkdir -p "$DSAR_DATA_DIR"

export DSAR_MODE=${DSAR_MODE:-dev}
export DSAR_HTTP_ADDR=${DSAR_HTTP_ADDR:-:8080}
http_port=${DSAR_HTTP_ADDR##*:}
export DSAR_PUBLIC_URL=${DSAR_PUBLIC_URL:-http://localhost:$http_port}
ui_port=${DSAR_TEMPORAL_UI_PORT:-8233}
export DSAR_TEMPORAL_UI_URL=${DSAR_TEMPORAL_UI_URL:-http://localhost:$ui_port}

pids=()
joined_pg=""
cleanup() {
	trap - INT TERM EXIT
	echo "run: stopping..." >&2
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
	[ -n "$joined_pg" ] && pg_users_leave || true
	echo "run: stopped" >&2
}
trap cleanup EXIT
trap "exit 0" INT TERM

echo "run: building" >&2
make -s build tools >&2

# Postgres: the user's DATABASE_URL (or DSAR_DATABASE_URL) if it answers.
if [ -n "${DSAR_DATABASE_URL:-}" ]; then export DATABASE_URL=$DSAR_DATABASE_URL; fi
# The private cluster may be shared with make test or make bench running
# meanwhile; the last of them to stop stops it (scripts/pg-users.sh).
. scripts/pg-users.sh
pg_users_join
joined_pg=yes
url=$(pg_users_start dsar)
export DATABASE_URL=$url DSAR_DATABASE_URL=$url

# Temporal: the user's server if DSAR_TEMPORAL_ADDRESS is set, else the dev server.
if [ -z "${DSAR_TEMPORAL_ADDRESS:-}" ]; then
	export DSAR_TEMPORAL_ADDRESS=127.0.0.1:7233
	echo "run: starting the Temporal dev server on $DSAR_TEMPORAL_ADDRESS (UI on :$ui_port)" >&2
	bin/temporal server start-dev \
		--ip 127.0.0.1 --port 7233 --ui-port "$ui_port" \
		--db-filename "$DSAR_DATA_DIR/temporal.db" \
		--sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal \
		--namespace "${DSAR_TEMPORAL_NAMESPACE:-default}" \
		--search-attribute DsarStatus=Keyword --search-attribute DsarRequestType=Keyword \
		--search-attribute DsarCountry=Keyword --search-attribute DsarDeadline=Datetime \
		--search-attribute DsarOverdue=Bool \
		--search-attribute DsarAttention=Bool --search-attribute DsarHandler=Keyword \
		--ui-codec-endpoint "$DSAR_PUBLIC_URL/codec" \
		--log-level warn >"$DSAR_DATA_DIR/temporal.log" 2>&1 8>&- &
	pids+=($!)
	for _ in $(seq 1 300); do
		if bin/temporal operator namespace describe --address "$DSAR_TEMPORAL_ADDRESS" -n "${DSAR_TEMPORAL_NAMESPACE:-default}" >/dev/null 2>&1; then break; fi
		kill -0 "${pids[-1]}" 2>/dev/null || { echo "run: the Temporal dev server failed; see $DSAR_DATA_DIR/temporal.log" >&2; tail -20 "$DSAR_DATA_DIR/temporal.log" >&2; exit 1; }
		sleep 0.2
	done
fi

# The commands of the README (dsar user create, dsar audit verify, ...) run
# from this folder find what make run started through this file.
cat >"$DSAR_DATA_DIR/dsar.yaml" <<YAML
# Written by make run; bin/dsar reads it when run from the repository's root
# without --config. DSAR_* variables override it. DEV ONLY.
mode: $DSAR_MODE
public_url: $DSAR_PUBLIC_URL
database:
  url: "$DATABASE_URL"
temporal:
  address: "$DSAR_TEMPORAL_ADDRESS"
  ui_url: "$DSAR_TEMPORAL_UI_URL"
YAML

bin/dsar migrate 8>&-

bin/dsar all 8>&- &
pids+=($!)

if [ "${DSAR_EMAIL_PROVIDER:-outbox}" = outbox ] && [ "$DSAR_MODE" = dev ]; then
	mailbox="Dev mailbox      $DSAR_PUBLIC_URL/dev/mailbox   (mail is kept here, not sent)"
else
	mailbox="Mail             sent through ${DSAR_EMAIL_PROVIDER:-resend}"
fi
cat >&2 <<MSG

  DSAR service is starting (mode: $DSAR_MODE)
    Request form     $DSAR_PUBLIC_URL/
    Staff console    $DSAR_PUBLIC_URL/console
    Requester portal $DSAR_PUBLIC_URL/portal
    API              $DSAR_PUBLIC_URL/api/v1/   (OpenAPI: $DSAR_PUBLIC_URL/openapi.yaml)
    $mailbox
    Health           $DSAR_PUBLIC_URL/readyz
    Temporal UI      $DSAR_TEMPORAL_UI_URL
    Temporal         $DSAR_TEMPORAL_ADDRESS
    Postgres         ${DATABASE_URL%%\?*}
  First staff user:  echo 'a long password' | bin/dsar user create --email you@example.com --name You --role org_owner
  Ctrl-C stops everything.

MSG

# Stay up while everything runs; stop when a process dies or make goes away.
parent=$PPID
while :; do
	for pid in "${pids[@]}"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "run: a process exited (pid $pid); stopping the rest" >&2
			exit 1
		fi
	done
	kill -0 "$parent" 2>/dev/null || exit 0
	sleep 1
done
