#!/usr/bin/env bash
# Makes sure a Postgres server answers and prints its DATABASE_URL.
#
#   scripts/postgres.sh start [dbname]  print DATABASE_URL of a server that answers:
#                                       $DATABASE_URL if it does, else a private
#                                       cluster under $DSAR_DATA_DIR/postgres
#                                       (started if needed; the postgresql package
#                                       is installed with apt-get when missing)
#   scripts/postgres.sh stop            stop the private cluster
#   scripts/postgres.sh running         exit 0 if the private cluster runs
#
# Progress goes to stderr; only the URL goes to stdout.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
data_dir=${DSAR_DATA_DIR:-$root/.data}
pgdata=$data_dir/postgres
port=${DSAR_PG_PORT:-55432}
say() { echo "postgres: $*" >&2; }

answers() { # url
	local bindir
	bindir=$(pg_bindir 2>/dev/null || true)
	if command -v psql >/dev/null; then
		psql "$1" -qAtc 'select 1' >/dev/null 2>&1
	elif [ -n "$bindir" ] && [ -x "$bindir/psql" ]; then
		"$bindir/psql" "$1" -qAtc 'select 1' >/dev/null 2>&1
	else
		return 1
	fi
}

pg_bindir() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

as_owner() { # run a command as the cluster's owner (initdb refuses root)
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

install_postgres() {
	say "the postgresql package is missing; installing it with apt-get"
	local sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	$sudo apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
}

start() {
	local db=${1:-dsar}
	if [ -n "${DATABASE_URL:-}" ]; then
		if answers "$DATABASE_URL"; then
			echo "$DATABASE_URL"
			return
		fi
		say "DATABASE_URL is set but does not answer; starting a private cluster instead"
	fi
	local bindir
	bindir=$(pg_bindir) || { install_postgres; bindir=$(pg_bindir); }
	mkdir -p "$data_dir"
	# One start at a time: make run and make test may race for the cluster.
	exec 9>"$data_dir/.postgres.lock"
	flock 9
	if [ ! -s "$pgdata/PG_VERSION" ]; then
		say "creating a private cluster in $pgdata"
		mkdir -p "$pgdata"
		[ "$(id -u)" = 0 ] && chown postgres:postgres "$pgdata"
		chmod 700 "$pgdata"
		as_owner "$bindir/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 >/dev/null
	fi
	if ! as_owner "$bindir/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
		say "starting the private cluster on 127.0.0.1:$port"
		# 9>&-: the server must not inherit the lock, or it would hold it
		# for as long as it runs and every later start would wait.
		as_owner "$bindir/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 60 \
			-o "-p $port -k $pgdata -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=${DSAR_PG_FSYNC:-on}" start >/dev/null 9>&-
	fi
	local url="postgres://postgres@127.0.0.1:$port/$db?sslmode=disable"
	"$bindir/psql" "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable" -qAtc \
		"select 1 from pg_database where datname = '$db'" | grep -q 1 ||
		"$bindir/psql" "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable" -qc "create database \"$db\"" >/dev/null
	echo "$url"
}

stop() {
	local bindir
	bindir=$(pg_bindir) || return 0
	if [ -s "$pgdata/PG_VERSION" ] && as_owner "$bindir/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
		say "stopping the private cluster"
		as_owner "$bindir/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
	fi
}

running() {
	local bindir
	bindir=$(pg_bindir) || return 1
	[ -s "$pgdata/PG_VERSION" ] && as_owner "$bindir/pg_ctl" -D "$pgdata" status >/dev/null 2>&1
}

case "${1:-start}" in
start) start "${2:-dsar}" ;;
stop) stop ;;
running) running ;;
*) echo "usage: $0 start [dbname] | stop | running" >&2; exit 2 ;;
esac
