#!/bin/sh
# run.sh - the driver behind `make bench`: runs the benchmark programs,
# prints one table, writes the same figures to $HOTCFG_BUILD/bench.json
# (a run of named parts: bench-PART-PART.json next to it).
#
#   HOTCFG_BUILD=/abs/build tests/bench/run.sh [PART...]
#
# PART is any of: read reload reload-b build refresh idle (default: all
# six, in that order), or cachegrind (not in the default run; see
# README.md).  reload-b is the reload program with -b: the edit buried in
# the file's largest top-level section, which the agent cuts into groups.
# Extra options for one program go in BENCH_<PART>_ARGS, e.g.
#   BENCH_READ_ARGS="-k 1000 -r 3" tests/bench/run.sh read
# Each program's progress and errors go to $HOTCFG_BUILD/bench-logs/.
# For tests/bench_smoke.sh: BENCH_SMOKE=1 runs every program with -s (tiny
# sizes); BENCH_BIN, BENCH_LOGS and BENCH_JSON move the programs, the logs
# and the JSON file.
#
# Every comparison is made inside one program, in one run, side by side;
# this script only runs them one after the other (never two at once, so
# they do not disturb each other) and assembles the output.

set -u

: "${HOTCFG_BUILD:?set HOTCFG_BUILD to the absolute build directory}"
B=$HOTCFG_BUILD
BIN=${BENCH_BIN:-$B/bench}
LOGS=${BENCH_LOGS:-$B/bench-logs}
# A run of some parts leaves the whole run's bench.json alone: its figures
# go to bench-PART-PART.json.
if [ $# -eq 0 ]; then
	JSON=${BENCH_JSON:-$B/bench.json}
else
	JSON=${BENCH_JSON:-$B/bench-$(echo "$*" | tr ' ' '-').json}
fi
smoke=
[ -n "${BENCH_SMOKE:-}" ] && smoke=-s
mkdir -p "$LOGS"
rm -f "$LOGS"/*.json "$LOGS"/*.out "$LOGS"/*.err "$LOGS"/targets

parts=${*:-read reload reload-b build refresh idle}
start=$(date +%s)
status=0

load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)
ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?')
when=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cmd="HOTCFG_BUILD=$B tests/bench/run.sh $*"

echo "hotcfg benchmarks  $when  $ncpu x $cpu  load average before: $load"
echo "(medians; ratios are taken between figures of the same run)"
echo

# run_one NAME PART [ARGS]: run one program, keep its table rows and
# targets.  Its output files are named after $TAG (default: NAME), so one
# program can run twice with different arguments.
run_one() {
	name=$1 part=$2
	tag=${TAG:-$name}
	shift 2
	if [ ! -x "$BIN/$name" ]; then
		echo "$(echo "$part" | tr '[:lower:]' '[:upper:]')  not built:" \
		    "$BIN/$name is missing (make bench builds it)"
		echo
		status=1
		return
	fi
	t0=$(date +%s)
	# shellcheck disable=SC2086
	"$BIN/$name" $smoke -j "$LOGS/$tag.json" "$@" >"$LOGS/$tag.out" \
	    2>"$LOGS/$tag.err"
	rc=$?
	t1=$(date +%s)
	grep -v '^TARGET ' "$LOGS/$tag.out"
	echo "  ($tag: $((t1 - t0)) s)"
	grep '^TARGET ' "$LOGS/$tag.out" >>"$LOGS/targets"
	if [ $rc -ne 0 ]; then
		echo "  $tag failed (exit $rc); last lines of $LOGS/$tag.err:"
		tail -5 "$LOGS/$tag.err" | sed 's/^/    /'
		status=1
	fi
	echo
}

: >"$LOGS/targets"
for p in $parts; do
	case $p in
	read)
		# shellcheck disable=SC2086
		run_one read_path read ${BENCH_READ_ARGS:-} ;;
	reload)
		# shellcheck disable=SC2086
		run_one reload reload ${BENCH_RELOAD_ARGS:-} ;;
	reload-b)
		TAG=reload_buried
		# shellcheck disable=SC2086
		run_one reload reload-b -b ${BENCH_RELOAD_ARGS:-}
		TAG= ;;
	build)
		# shellcheck disable=SC2086
		run_one build_cost build ${BENCH_BUILD_ARGS:-} ;;
	refresh)
		# shellcheck disable=SC2086
		run_one refresh refresh ${BENCH_REFRESH_ARGS:-} ;;
	idle)
		# shellcheck disable=SC2086
		run_one idle_cpu idle ${BENCH_IDLE_ARGS:-} ;;
	cachegrind)
		"$(dirname "$0")/cachegrind.sh" | tee "$LOGS/cachegrind.out"
		echo ;;
	*)
		echo "run.sh: unknown part '$p' (read reload reload-b build" \
		    "refresh idle cachegrind)" >&2
		exit 2 ;;
	esac
done

end=$(date +%s)
echo "TARGETS"
sed -e 's/^TARGET met\t/  [met]     /' -e 's/^TARGET MISSED\t/  [MISSED]  /' \
    -e 's/^TARGET n\/a\t/  [n\/a]     /' "$LOGS/targets"
echo
echo "done in $((end - start)) s; figures in $JSON"

# bench.json: the run's facts, then each program's object under its name.
{
	printf '{\n "date": "%s",\n "command": "%s",\n' "$when" "$cmd"
	printf ' "cpus": "%s",\n "cpu": "%s",\n' "$ncpu" "$cpu"
	printf ' "load_average_before": "%s",\n "seconds": %s,\n' "$load" \
	    "$((end - start))"
	printf ' "parts": {'
	sep=''
	for f in "$LOGS"/*.json; do
		[ -f "$f" ] || continue
		printf '%s\n  "%s": ' "$sep" "$(basename "$f" .json)"
		sed '2,$s/^/  /' "$f"
		sep=','
	done
	printf '\n }\n}\n'
} >"$JSON"
exit $status
