#!/bin/sh
# man_lint.sh - the manual pages are complete and clean.
#
# Checks, for the tree at $HOTCFG_SRC (default: this script's parent):
#  1. every man/*.[1-9] page is clean under `mandoc -T lint -W warning`;
#  2. every function that include/hotcfg.h declares (a name hotcfg_... followed
#     by '(' outside comments) is documented: it is the first argument of a
#     .Nm, .Fn or .Fo line in some man/*.3 page;
#  3. every page has the sections a reader expects: NAME, SYNOPSIS,
#     DESCRIPTION, SEE ALSO; library pages also RETURN VALUES, ERRORS and
#     EXAMPLES; command pages (sections 1 and 8) EXIT STATUS and EXAMPLES;
#  4. every .Xr to one of the project's own pages (hotcfg*, libhotcfg*)
#     names a page that exists in man/;
#  5. the pages follow the code: every long option in agent/main.c is in
#     hotcfgd(8), every long option and command of agent/cli/ in hotcfg(1),
#     every key that agent/config.c accepts in hotcfgd.yaml(5).
# Exit status: 0 when all hold, 1 otherwise, with every problem listed.
set -u

src=${HOTCFG_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
man=$src/man
header=$src/include/hotcfg.h
fail=0
problem() {
	echo "FAIL: $*"
	fail=1
}

if ! command -v mandoc >/dev/null 2>&1; then
	echo "FAIL: mandoc is not installed (make deps installs it)"
	exit 1
fi
[ -f "$header" ] || { echo "FAIL: no $header"; exit 1; }

pages=$(ls "$man"/*.[1-9] 2>/dev/null)
[ -n "$pages" ] || { echo "FAIL: no manual pages in $man"; exit 1; }

# 1. Lint.  mandoc exits non-zero on any message at the level asked for;
# its messages name the file, line and column.
npages=0
for p in $pages; do
	npages=$((npages + 1))
	if ! out=$(mandoc -T lint -W warning "$p" 2>&1) || [ -n "$out" ]; then
		problem "$(basename "$p") is not clean under mandoc -T lint -W warning:"
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
done
echo "linted $npages pages"

# 2. Every public function is documented.  Comments are removed first, so
# that a function mentioned only in a comment is not required.  Names that
# start with hotcfg__ are not API (the header says so: the layouts its
# inline hotcfg_snapshot() reads), and are not required either.
funcs=$(awk '
	{
		line = $0; out = ""
		while (line != "") {
			if (incomment) {
				i = index(line, "*/")
				if (i == 0) { line = ""; break }
				line = substr(line, i + 2); incomment = 0
			} else {
				i = index(line, "/*")
				if (i == 0) { out = out line; line = ""; break }
				out = out substr(line, 1, i - 1)
				line = substr(line, i + 2); incomment = 1
			}
		}
		print out
	}' "$header" |
    grep -o 'hotcfg_[a-z0-9_]*[[:space:]]*(' | sed 's/[[:space:]]*($//' |
    grep -v '^hotcfg__' | sort -u)
nfuncs=$(printf '%s\n' "$funcs" | grep -c .)
if [ "$nfuncs" -lt 10 ]; then
	problem "found only $nfuncs functions in $header; is the parser broken?"
fi
documented=$(cat "$man"/*.3 2>/dev/null |
    sed -n 's/^\.\(Nm\|Fn\|Fo\)[[:space:]]\{1,\}\(hotcfg_[a-z0-9_]*\).*/\2/p' |
    sort -u)
missing=0
for f in $funcs; do
	if ! printf '%s\n' "$documented" | grep -qx "$f"; then
		problem "$f (declared in include/hotcfg.h) is in no .Nm, .Fn or .Fo of man/*.3"
		missing=$((missing + 1))
	fi
done
echo "$nfuncs public functions, $missing undocumented"

# 3. Sections.
for p in $pages; do
	name=$(basename "$p")
	sec=${name##*.}
	need="NAME|SYNOPSIS|DESCRIPTION|SEE ALSO"
	case $sec in
	3) need="$need|RETURN VALUES|ERRORS|EXAMPLES" ;;
	1|8) need="$need|EXIT STATUS|EXAMPLES" ;;
	esac
	# hotcfgd.yaml(5) has no SYNOPSIS: a file format has nothing to call.
	[ "$sec" = 5 ] && need="NAME|DESCRIPTION|EXAMPLES|SEE ALSO"
	old_ifs=$IFS
	IFS='|'
	for s in $need; do
		if ! grep -qx "\.Sh $s" "$p"; then
			problem "$name has no $s section"
		fi
	done
	IFS=$old_ifs
done

# 4. References to our own pages resolve.
for p in $pages; do
	grep -h '^\.Xr \(hotcfg\|libhotcfg\)' "$p" | while read -r _ ref sec _; do
		if [ ! -f "$man/$ref.$sec" ]; then
			echo "FAIL: $(basename "$p") refers to $ref($sec), which is not in man/"
		fi
	done
done >"${TMPDIR:-/tmp}/man_lint.$$"
if [ -s "${TMPDIR:-/tmp}/man_lint.$$" ]; then
	cat "${TMPDIR:-/tmp}/man_lint.$$"
	fail=1
fi
rm -f "${TMPDIR:-/tmp}/man_lint.$$"

# 5. The pages describe what was built: every long option of hotcfgd and
# of hotcfg, every hotcfg command and every key of hotcfgd.yaml appears in
# its page.  The lists come from the code; a part not written yet is
# skipped.
agent=$src/agent
check_words() {  # page, macro, words...
	page=$1 macro=$2
	shift 2
	[ -f "$man/$page" ] || { problem "no man/$page"; return; }
	for w in "$@"; do
		if ! grep -q "$macro$w\([^a-z_-]\|\$\)" "$man/$page"; then
			problem "$page does not document $w (no \"$macro$w\")"
		fi
	done
}
longopts() {
	cat "$@" 2>/dev/null |
	    grep -o '{ "[a-z-]*", \(required\|no\|optional\)_argument' |
	    sed 's/{ "\([a-z-]*\)".*/\1/' | sort -u
}
if [ -f "$agent/main.c" ]; then
	check_words hotcfgd.8 "Fl -" $(longopts "$agent/main.c")
fi
if ls "$agent"/cli/*.c >/dev/null 2>&1; then
	check_words hotcfg.1 "Fl -" \
	    $(longopts "$agent"/cli/*.c "$agent"/cli/*.h)
	check_words hotcfg.1 "Cm " $(cat "$agent"/cli/*.c |
	    grep -o '{ "[a-z]*", cmd_[a-z]* }' | sed 's/{ "\([a-z]*\)".*/\1/')
fi
if [ -f "$agent/config.c" ]; then
	check_words hotcfgd.yaml.5 "Ic " $( (
	    grep -o 'strcmp(\(k\|key->text\), "[a-z_]*")' "$agent/config.c" |
	    sed 's/.*"\([a-z_]*\)")/\1/'
	    grep -o '{ "[a-z]*", SRC_[A-Z]* }' "$agent/config.c" |
	    sed 's/{ "\([a-z]*\)".*/\1/' ) | sort -u)
fi

if [ "$fail" = 0 ]; then
	echo "man pages OK"
else
	echo "man pages NOT OK"
fi
exit "$fail"
