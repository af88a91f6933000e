#!/bin/sh
# run.sh - build the libFuzzer targets with clang and run each for a while.
#
#   tests/fuzz/run.sh [SECONDS]    build, then run every target SECONDS
#                                  seconds (default 60) on its corpus
#   tests/fuzz/run.sh --build      build only (what `make fuzz` does)
#
# Every tests/fuzz/fuzz_*.c is a target.  A target that needs an agent
# file says so in a line "fuzz-requires: agent/x.c"; it is skipped while
# that file does not exist.  lib/*.c and agent/*.c (not main.c) are
# compiled from source here with clang, -fsanitize=fuzzer-no-link plus
# ASan and UBSan, into $FUZZ_BUILD (default build/fuzz): gcc objects from
# the main build are never reused.  A source that does not compile is
# left out with a warning; a target that needed it then fails to link.
#
# Runs use a working copy of the checked-in seed corpus
# (tests/fuzz/corpus/TARGET -> $FUZZ_BUILD/corpus/TARGET), so the
# repository does not grow; crashes go to $FUZZ_BUILD/crashes/TARGET/.
# One line per target sums up the run: executions, coverage, crashes.
# Exit status: 0 when every target built and ran without a finding.
#
# Environment: CLANG (default clang, else clang-14), FUZZ_BUILD,
# FUZZ_TARGETS (names like "snapshot yaml" to run a subset),
# FUZZ_FLAGS (extra libFuzzer flags, e.g. -jobs=2 -workers=2).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top" || exit 2

mode=run
secs=60
case "${1:-}" in
--build) mode=build ;;
'') ;;
*[!0-9]*) echo "usage: $0 [SECONDS | --build]" >&2; exit 2 ;;
*) secs=$1 ;;
esac

: "${FUZZ_BUILD:=build/fuzz}"
if [ -z "${CLANG:-}" ]; then
	if command -v clang >/dev/null 2>&1; then CLANG=clang
	else CLANG=clang-14; fi
fi
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
CFLAGS="-std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -pthread
 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
 -Wno-unused-parameter -Iinclude -Ilib -Iagent -Itests/fuzz
 $(pkg-config --cflags yaml-0.1 jansson libcurl)"
LIBS="$(pkg-config --libs yaml-0.1 jansson libcurl) -lm"

mkdir -p "$FUZZ_BUILD/obj" || exit 2

# Compile one source into an object of the fuzz build, when out of date.
cc_obj() {
	o="$FUZZ_BUILD/obj/$(echo "$1" | tr / _ | sed 's/\.c$/.o/')"
	if [ ! -f "$o" ] || [ "$1" -nt "$o" ] || [ -n "$(find lib agent \
	    tests/fuzz -name '*.h' -newer "$o" 2>/dev/null | head -n 1)" ]; then
		# shellcheck disable=SC2086
		$CLANG $CFLAGS $SAN $2 -c "$1" -o "$o" || return 1
	fi
	echo "$o"
}

# The library and agent code every target may link, as one archive.
objs=""
for f in lib/*.c agent/*.c; do
	[ "$f" = agent/main.c ] && continue
	if o=$(cc_obj "$f" -fsanitize=fuzzer-no-link); then
		objs="$objs $o"
	else
		echo "run.sh: warning: $f does not compile with $CLANG; left out" >&2
	fi
done
ar_new="$FUZZ_BUILD/libfuzzdeps.a"
rm -f "$ar_new"
# shellcheck disable=SC2086
ar rcs "$ar_new" $objs || exit 1

status=0
built=""
for src in tests/fuzz/fuzz_*.c; do
	t=$(basename "$src" .c)
	name=${t#fuzz_}
	if [ -n "${FUZZ_TARGETS:-}" ]; then
		case " $FUZZ_TARGETS " in *" $name "*) ;; *) continue ;; esac
	fi
	req=$(sed -n 's/.*fuzz-requires: *\([^ ]*\).*/\1/p' "$src")
	missing=""
	for r in $req; do [ -f "$r" ] || missing="$missing $r"; done
	if [ -n "$missing" ]; then
		echo "$t: skipped, needs$missing"
		continue
	fi
	o=$(cc_obj "$src" -fsanitize=fuzzer-no-link) || { status=1; continue; }
	# shellcheck disable=SC2086
	if ! $CLANG -fsanitize=fuzzer $SAN -pthread -o "$FUZZ_BUILD/$t" "$o" \
	    "$ar_new" $LIBS; then
		echo "$t: does not link" >&2
		status=1
		continue
	fi
	built="$built $t"
done
[ "$mode" = build ] && { echo "built:$built"; exit $status; }

for t in $built; do
	name=${t#fuzz_}
	work="$FUZZ_BUILD/corpus/$name"
	crashes="$FUZZ_BUILD/crashes/$name"
	log="$FUZZ_BUILD/$t.log"
	mkdir -p "$work" "$crashes"
	if [ -d "tests/fuzz/corpus/$name" ]; then
		cp -n tests/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null
	fi
	# The yaml-test-suite (a peer's, read only) gives fuzz_yaml several
	# hundred more seeds: its in.yaml files, copied once.
	extra=""
	suite=${YAML_TEST_SUITE:-$top/../shared/yaml-test-suite}
	if [ "$name" = yaml ] && [ -d "$suite" ]; then
		extra="$FUZZ_BUILD/suite-seeds"
		if [ ! -d "$extra" ]; then
			mkdir -p "$extra"
			find "$suite" -name in.yaml | while read -r f; do
				n=${f#"$suite"/}
				cp "$f" "$extra/$(echo "${n%/in.yaml}" | tr / _).yaml"
			done
		fi
	fi
	dict=""
	[ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
	# -rss_limit_mb bounds a run-away allocation; -timeout a hang.
	# shellcheck disable=SC2086
	ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1" \
	UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
	"$FUZZ_BUILD/$t" -max_total_time="$secs" -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$crashes/" $dict ${FUZZ_FLAGS:-} \
	    "$work" $extra >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | sed 's/ft: //')
	nfound=$(find "$crashes" -type f | wc -l)
	echo "$t: ${secs}s runs=${runs:-?} cov=${cov:-?} ft=${ft:-?}" \
	    "corpus=$(find "$work" -type f | wc -l) findings=$nfound rc=$rc"
	if [ "$rc" != 0 ] || [ "$nfound" != 0 ]; then
		status=1
		grep -A 30 'ERROR\|check failed\|fuzz_' "$log" | head -n 60 >&2
	fi
done
exit $status
