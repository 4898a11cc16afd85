#!/usr/bin/env bash
# make fuzz: every fuzz target (func FuzzX in a _test.go file), one after the
# other, each for FUZZTIME (a duration such as 10s, or a count such as
# 20000x). Seeds: f.Add in the targets and testdata/fuzz/.
#
# Go 1.26's fuzzing coordinator can fail a target with a bare "context
# deadline exceeded" when its -fuzztime ends while a worker is busy
# (golang/go#75804, fixed in Go 1.27): no failing input, nothing written to
# testdata/fuzz. Such a run is made once more; any other failure, or a
# second such one, fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
go=${GO:-go}
fuzztime=${FUZZTIME:-10s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

fuzz_once() { # dir target
	local status=0
	"$go" test -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime" "$1" 2>&1 | tee "$log" || status=$?
	return "$status"
}

deadline_race() {
	grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"
}

dirs=$(grep -rl --include='*_test.go' --exclude-dir=.data --exclude-dir=bin --exclude-dir=tools '^func Fuzz' . 2>/dev/null |
	xargs -n1 dirname | sort -u)
for dir in $dirs; do
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | cut -d' ' -f2); do
		echo "fuzz $dir $target ($fuzztime)"
		if fuzz_once "$dir" "$target"; then
			continue
		fi
		if deadline_race; then
			echo "fuzz: $target stopped on Go's fuzztime deadline race (golang/go#75804), with no failing input; once more"
			fuzz_once "$dir" "$target" && continue
		fi
		echo "fuzz: $target failed" >&2
		exit 1
	done
done
