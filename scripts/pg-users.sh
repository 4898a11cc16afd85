# Sourced by with-postgres.sh and run.sh: several of them (make run in one
# terminal, make test or make bench in another) may use the private cluster
# at once. Each holds a shared lock on .postgres.users (fd 8) while it runs;
# the last one to leave stops the cluster, and only if one of them started
# it (a cluster you started yourself is left running). Commands started
# while the lock is held must not inherit fd 8 (use 8>&-), or they would
# hold it after their script is gone. The caller sets $root (the repository).
pg_users_dir=${DSAR_DATA_DIR:-$root/.data}
pg_users_marker=$pg_users_dir/.postgres.started-by-script

# pg_users_join waits for a leaving user's stop to finish, then joins.
pg_users_join() {
	mkdir -p "$pg_users_dir"
	exec 8>"$pg_users_dir/.postgres.users"
	flock -s 8
}

# pg_users_start DB prints the DATABASE_URL of a server that answers for
# database DB (scripts/postgres.sh start) and remembers whether it started
# the private cluster.
pg_users_start() {
	local running_before="" url
	"$root/scripts/postgres.sh" running 8>&- && running_before=yes
	url=$("$root/scripts/postgres.sh" start "$1" 8>&-)
	if [ "$url" != "${DATABASE_URL:-}" ] && [ -z "$running_before" ]; then
		: >"$pg_users_marker"
	fi
	echo "$url"
}

# pg_users_leave stops the private cluster if no other user holds it and a
# user of this kind started it.
pg_users_leave() {
	if flock -x -n 8 && [ -e "$pg_users_marker" ]; then
		"$root/scripts/postgres.sh" stop 8>&- || true
		rm -f "$pg_users_marker"
	fi
	exec 8>&-
}
