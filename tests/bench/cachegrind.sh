#!/bin/sh
# cachegrind.sh - cross-check of "at most two cache lines per lookup" at 1M
# keys with a simulated cache, for machines (like this project's VMs) whose
# perf has no hardware counters.  Not part of the default `make bench`
# run (it takes a minute or two); run it as
#
#   HOTCFG_BUILD=/abs/build tests/bench/run.sh cachegrind
#
# read_path -l builds the read benchmark's 1M-key snapshot and lookup
# stream and leaves them in a scratch directory.  Then read_path -c runs
# twice under cachegrind on them, mapping the snapshot as a reader does:
# once doing N lookups ("bare": hotcfg_get_int on the snapshot) and once
# only walking the same N keys of the stream ("null").  Both runs do the
# same setup, so the difference of their data-cache read misses, divided
# by N, is what the lookups alone miss.  With a 1M-key snapshot about
# three times the size of the last-level cache and random keys, nearly
# every distinct line a lookup touches is a miss, so D1 misses per lookup
# approximate the lines touched per lookup.

set -u
: "${HOTCFG_BUILD:?set HOTCFG_BUILD to the absolute build directory}"
BIN=$HOTCFG_BUILD/bench
KEYS=${CG_KEYS:-1000000}
N=${CG_LOOKUPS:-200000}

echo "CACHEGRIND  simulated data-cache misses per lookup, $KEYS keys," \
    "$N random lookups (bare minus null run)"
if ! command -v valgrind >/dev/null 2>&1; then
	echo "  valgrind not installed: part skipped"
	exit 0
fi
base=${TMPDIR:-/tmp}            # where bench_tmpdir() looks too
[ -w /dev/shm ] && base=/dev/shm
# (The pid in the name lets a later run remove what a killed one left.)
dir=$(mktemp -d "$base/hotcfg-bench-cg-$$-XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT

BENCH_CG_DIR=$dir "$BIN/read_path" -l -k "$KEYS" >"$dir/layout.out" \
    2>/dev/null || { echo "  read_path -l failed"; exit 1; }
grep '^  cache lines' "$dir/layout.out"

# D1 32 KiB 8-way and LL 32 MiB 16-way, 64-byte lines: this machine's L1d
# and L3 (lscpu), given explicitly so the run does not depend on
# cachegrind's guess.
misses() {
	valgrind --tool=cachegrind --cache-sim=yes --D1=32768,8,64 \
	    --LL=33554432,16,64 --cachegrind-out-file=/dev/null \
	    "$BIN/read_path" -c "$N" -C "$dir" -m "$1" 2>&1 >/dev/null |
	    awk -v what="$2" '$2 == what && $3 == "misses:" {
		gsub(",", "", $4); print $4 }'
}
d1_null=$(misses null D1) ll_null=$(misses null LLd)
d1_bare=$(misses bare D1) ll_bare=$(misses bare LLd)
awk -v n="$N" -v a="$d1_bare" -v b="$d1_null" -v c="$ll_bare" \
    -v d="$ll_null" 'BEGIN {
	printf "  D1 misses per lookup %.2f, LL misses per lookup %.2f\n",
	    (a - b) / n, (c - d) / n }'
