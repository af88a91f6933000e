#!/bin/sh
# bench_smoke.sh - every benchmark program, and the driver that assembles
# their table and JSON, run once with tiny sizes (BENCH_SMOKE=1 gives each
# program -s), so that the benchmark code cannot rot.  It judges no
# timing: it passes when every program runs to the end, reports no lookup
# errors and no incomplete reload, and bench.json is well-formed JSON.
#
# The programs are normally built by the Makefile (make bench, or make
# tests when it includes the bench programs).  When they are missing from
# $HOTCFG_BUILD/bench, they are built here, into a scratch build directory
# with the default flags, so that this test never depends on how the
# build under test was configured.
set -u
src=${HOTCFG_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
: "${HOTCFG_BUILD:=$src/build}"
export HOTCFG_BUILD
progs="read_path reload build_cost refresh idle_cpu"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hotcfg-bench-smoke-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

bin=$HOTCFG_BUILD/bench
for p in $progs; do
	[ -x "$bin/$p" ] && continue
	echo "bench_smoke: $bin/$p missing: building the bench programs in" \
	    "a scratch directory"
	targets=
	for q in $progs; do targets="$targets $tmp/build/bench/$q"; done
	# Not the caller's make flags: they may name sanitizers whose
	# objects are not ours to link against.
	# shellcheck disable=SC2086
	if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$src" \
	    BUILD="$tmp/build" SANFLAGS= OPT=-O1 $targets >"$tmp/make.log" 2>&1
	then
		echo "bench_smoke: building the bench programs failed:"
		tail -n 30 "$tmp/make.log"
		exit 1
	fi
	bin=$tmp/build/bench
	break
done

BENCH_SMOKE=1 BENCH_BIN=$bin BENCH_LOGS=$tmp/logs BENCH_JSON=$tmp/bench.json \
    sh "$src/tests/bench/run.sh" >"$tmp/table" 2>&1
rc=$?
fail=0
if [ $rc -ne 0 ]; then
	echo "bench_smoke: run.sh exited $rc"
	fail=1
fi
# reload -w (a file the agent parses whole) is not in run.sh's parts.
if ! "$bin/reload" -s -b -w -j "$tmp/logs/reload_whole.json" \
    >>"$tmp/table" 2>"$tmp/logs/reload_whole.err"; then
	echo "bench_smoke: reload -b -w failed:"
	cat "$tmp/logs/reload_whole.err"
	fail=1
fi
# reload runs twice: as it is, and with -b (run.sh's part reload-b).
for p in $progs reload_buried reload_whole; do
	if [ ! -s "$tmp/logs/$p.json" ]; then
		echo "bench_smoke: $p wrote no JSON"
		fail=1
	fi
done
cat "$tmp/table"
if grep -q -e 'ERRORS' -e 'INCOMPLETE' -e 'failed' -e 'not built' \
    "$tmp/table"; then
	echo "bench_smoke: a program reported errors (above)"
	fail=1
fi
if command -v python3 >/dev/null 2>&1 &&
    ! python3 -c 'import json, sys; json.load(open(sys.argv[1]))' \
    "$tmp/bench.json"; then
	echo "bench_smoke: bench.json is not valid JSON"
	fail=1
fi
# The 2-thread idle rows carry the line probe's figure (null only when
# the process may use fewer than two CPUs) and refcount over bare.
if command -v python3 >/dev/null 2>&1 &&
    ! python3 - "$tmp/logs/read_path.json" <<'PY'
import json, sys
cases = json.load(open(sys.argv[1]))["cases"]
rows = [c for c in cases if c["threads"] == 2 and not c["publishing"]]
bad = [c["keys"] for c in rows
       if "line_transfer_ns" not in c
       or not (c["line_transfer_ns"] is None or c["line_transfer_ns"] > 0)
       or not c.get("refcount_over_bare", 0) > 0]
if not rows or bad:
    print("bench_smoke: read_path: 2-thread idle rows without a line "
          "figure or refcount/bare:", bad if rows else "no such rows")
    sys.exit(1)
PY
then
	fail=1
fi
[ $fail -eq 0 ] && echo "bench_smoke: all bench programs ran"
exit $fail
