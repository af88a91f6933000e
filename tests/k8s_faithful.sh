#!/bin/sh
# Faithfulness of the test API server (tests/k8s/apiserver.py), proved with
# real clients: Debian's kubectl (package kubernetes-client), the official
# Python client (python3-kubernetes), and a plain HTTP client for the wire
# semantics hotcfgd relies on (tests/k8s/semantics.py).
#
# Debian's kubectl conflicts with the kubectl package some machines carry,
# so it is never installed: `apt-get download` fetches the .deb and
# `dpkg-deb -x` unpacks it under $HOTCFG_BUILD/kubectl-debian/.  Only when
# that download is impossible are the kubectl checks skipped, saying SKIP;
# every other failure fails the script.
#
# Environment: HOTCFG_SRC (repository root), HOTCFG_BUILD (build directory).
set -u

SRC=${HOTCFG_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD=${HOTCFG_BUILD:-$SRC/build}
PY=/usr/bin/python3
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
K8S=$SRC/tests/k8s
W=$(mktemp -d "${TMPDIR:-/tmp}/k8s_faithful.XXXXXX") || exit 1
D=$W/srv
NS=default
pass=0
fail=0
spid=
wpid=
skipped=

ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() {
	fail=$((fail + 1)); echo "FAIL - $1"
	for f in "$@"; do
		[ "$f" = "$1" ] && continue
		[ -f "$f" ] && sed 's/^/#   /' "$f" | head -n 30
	done
	return 0
}
ctl() { timeout 30 "$PY" "$K8S/ctl.py" --dir "$D" "$@"; }
cleanup() {
	[ -n "$wpid" ] && kill "$wpid" 2>/dev/null
	[ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ------------------------------------------------------------ kubectl
KDIR=$BUILD/kubectl-debian
KUBECTL=$KDIR/usr/bin/kubectl
if [ ! -x "$KUBECTL" ]; then
	mkdir -p "$BUILD" "$W/deb" || exit 1
	if (cd "$W/deb" && timeout 300 apt-get download kubernetes-client) \
		>"$W/apt.log" 2>&1 && deb=$(ls "$W"/deb/kubernetes-client_*.deb 2>/dev/null) \
		&& [ -n "$deb" ]; then
		# Unpack beside the cache and rename, so a concurrent run never
		# sees half a tree.
		tmp=$KDIR.tmp.$$
		rm -rf "$tmp"
		if ! dpkg-deb -x "$deb" "$tmp" || [ ! -x "$tmp/usr/bin/kubectl" ]; then
			echo "FAIL - could not unpack $deb"; rm -rf "$tmp"; exit 1
		fi
		rm -rf "$KDIR"
		mv "$tmp" "$KDIR" 2>/dev/null || rm -rf "$tmp"
	else
		echo "SKIP - kubectl checks: 'apt-get download kubernetes-client' failed:"
		tail -n 5 "$W/apt.log" | sed 's/^/#   /'
		KUBECTL=
		skipped=", kubectl checks SKIPPED (download failed)"
	fi
fi
if [ -n "$KUBECTL" ]; then
	kv=$(timeout 20 "$KUBECTL" version --client 2>&1 | sed -n 's/.*GitVersion:"\([^"]*\)".*/\1/p')
	echo "# kubectl: $KUBECTL ${kv:-(version unknown)}"
fi

# ------------------------------------------------------------ the server
"$PY" "$K8S/apiserver.py" --dir "$D" --quiet --request-log "$W/requests.jsonl" \
	>"$W/server.log" 2>&1 &
spid=$!
if ! ctl wait --timeout 30; then
	echo "FAIL - the server did not start"; cat "$W/server.log"; exit 1
fi
echo "# server: $(cat "$D/url") pid $spid"

# ------------------------------------------------------------ kubectl runs
if [ -n "$KUBECTL" ]; then
	export HOME="$W/home" KUBECONFIG="$D/kubeconfig"
	mkdir -p "$HOME"
	kc() { timeout 30 "$KUBECTL" --request-timeout=20s "$@"; }
	out=$W/out err=$W/err

	ctl put "$NS/app" 'app.yaml=port: 8080' note=hello >/dev/null
	if kc get configmap app -o yaml >"$out" 2>"$err" \
		&& grep -q '^  name: app$' "$out" && grep -q '^  note: hello$' "$out" \
		&& grep -q '^  app.yaml: .port: 8080.$' "$out" \
		&& grep -Eq '^  resourceVersion: "[0-9]+"$' "$out" \
		&& grep -Eq '^  uid: [0-9a-f-]{36}$' "$out" && grep -q '^kind: ConfigMap$' "$out"; then
		ok "kubectl get configmap app -o yaml"
	else bad "kubectl get configmap app -o yaml" "$out" "$err"; fi

	if kc get cm >"$out" 2>"$err" && grep -Eq '^NAME +DATA +AGE$' "$out" \
		&& grep -Eq '^app +2 +[0-9]+s$' "$out"; then
		ok "kubectl get cm (server-side Table)"
	else bad "kubectl get cm (server-side Table)" "$out" "$err"; fi

	if ! kc get cm missing >"$out" 2>"$err" \
		&& grep -q 'Error from server (NotFound): configmaps "missing" not found' "$err"; then
		ok "kubectl get of a missing ConfigMap reports NotFound"
	else bad "kubectl get of a missing ConfigMap reports NotFound" "$out" "$err"; fi

	# get -w: kubectl lists, then watches from the list's resourceVersion.
	timeout 20 "$KUBECTL" get cm -w >"$W/watch.out" 2>"$W/watch.err" &
	wpid=$!
	found=
	if ctl wait-watches 1 --timeout 15; then
		ctl put "$NS/watched" k=v >/dev/null
		i=0
		while [ $i -lt 100 ]; do
			grep -Eq '^watched +1 +' "$W/watch.out" && { found=1; break; }
			sleep 0.1; i=$((i + 1))
		done
	fi
	kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null; wpid=
	if [ -n "$found" ] && grep -Eq '^app +2 ' "$W/watch.out" \
		&& grep '"watch": true' "$W/requests.jsonl" | grep kubectl \
		| grep -q '"query": "resourceVersion=[0-9]*&watch=true"'; then
		ok "kubectl get cm -w shows a ConfigMap created while it watches"
	else bad "kubectl get cm -w shows a ConfigMap created while it watches" \
		"$W/watch.out" "$W/watch.err"; fi

	printf 'server:\n  port: 8080\n  tags: [a, b]\n' >"$W/a.yaml"
	printf 'plain text\nsecond line\n' >"$W/b.txt"
	if kc create configmap files --from-file="$W/a.yaml" --from-file="$W/b.txt" \
		>"$out" 2>"$err" && grep -q '^configmap/files created$' "$out" \
		&& ctl get "$NS/files" >"$W/files.json" \
		&& "$PY" -c 'import json,sys
d=json.load(open(sys.argv[1]))["data"]
assert d=={"a.yaml":open(sys.argv[2]).read(),"b.txt":open(sys.argv[3]).read()},d' \
		"$W/files.json" "$W/a.yaml" "$W/b.txt" 2>>"$err"; then
		ok "kubectl create configmap --from-file stores the files byte for byte"
	else bad "kubectl create configmap --from-file" "$out" "$err"; fi

	cat >"$W/cm.yaml" <<-EOF
	apiVersion: v1
	kind: ConfigMap
	metadata:
	  name: applied
	  labels: {app: demo}
	data:
	  one: "1"
	  two: "2"
	EOF
	if kc apply -f "$W/cm.yaml" >"$out" 2>"$err" && grep -q '^configmap/applied created$' "$out" \
		&& ctl get "$NS/applied" >"$W/applied.json" \
		&& grep -q 'kubectl.kubernetes.io/last-applied-configuration' "$W/applied.json" \
		&& grep -q '"two": "2"' "$W/applied.json"; then
		ok "kubectl apply -f creates (with the last-applied annotation)"
	else bad "kubectl apply -f creates" "$out" "$err"; fi

	sed -i 's/"2"/"22"/; /one:/d' "$W/cm.yaml"
	if kc apply -f "$W/cm.yaml" >"$out" 2>"$err" && grep -q '^configmap/applied configured$' "$out" \
		&& ctl get "$NS/applied" >"$W/applied.json" \
		&& "$PY" -c 'import json,sys
o=json.load(open(sys.argv[1]))
assert o["data"]=={"two":"22"} and o["metadata"]["labels"]=={"app":"demo"},o' \
		"$W/applied.json" 2>>"$err" \
		&& grep '"method": "PATCH"' "$W/requests.jsonl" | grep -q 'strategic-merge-patch+json'; then
		ok "kubectl apply -f again: strategic merge PATCH updates and drops the removed key"
	else bad "kubectl apply -f again updates" "$out" "$err" "$W/applied.json"; fi

	if kc apply -f "$W/cm.yaml" >"$out" 2>"$err" && grep -q '^configmap/applied unchanged$' "$out"; then
		ok "kubectl apply -f a third time: unchanged"
	else bad "kubectl apply -f a third time: unchanged" "$out" "$err"; fi

	if kc delete configmap applied >"$out" 2>"$err" && grep -q '^configmap "applied" deleted$' "$out" \
		&& ! ctl get "$NS/applied" >/dev/null 2>&1; then
		ok "kubectl delete configmap"
	else bad "kubectl delete configmap" "$out" "$err"; fi

	# client-go retries a 429 after Retry-After, so kubectl still succeeds.
	ctl fault 429 --count 1 --retry-after 1 --path /configmaps/app >/dev/null
	if kc get cm app -o name >"$out" 2>"$err" && grep -q '^configmap/app$' "$out" \
		&& [ "$(grep '"path": "/api/v1/namespaces/default/configmaps/app"' "$W/requests.jsonl" \
			| tail -n 2 | sed -n 's/.*"status": \([0-9]*\).*/\1/p' | tr '\n' ' ')" = "429 200 " ]; then
		ok "kubectl honours 429 Retry-After and retries"
	else bad "kubectl honours 429 Retry-After and retries" "$out" "$err"; fi

	head -c 1100000 /dev/zero | tr '\0' 'x' >"$W/big.txt"
	if ! kc create configmap big --from-file="$W/big.txt" >"$out" 2>"$err" \
		&& grep -q 'ConfigMap "big" is invalid: \[\]: Too long: must have at most 1048576 bytes' "$err"; then
		ok "kubectl create of a ConfigMap over 1 MiB is refused (422 Invalid)"
	else bad "kubectl create of a ConfigMap over 1 MiB is refused" "$out" "$err"; fi

	if ! kc --token=wrong get cm >"$out" 2>"$err" \
		&& grep -q 'Unauthorized' "$err"; then
		ok "kubectl with a wrong token: Unauthorized"
	else bad "kubectl with a wrong token: Unauthorized" "$out" "$err"; fi

	ctl forbid app >/dev/null
	if kc get cm app -o name >"$out" 2>"$err" && ! kc get cm files >"$W/out2" 2>"$err" \
		&& grep -q 'Error from server (Forbidden): configmaps "files" is forbidden: User "system:serviceaccount:default:hotcfg" cannot get resource "configmaps" in API group "" in the namespace "default"' "$err"; then
		ok "kubectl in resourceNames mode: named ConfigMap readable, others Forbidden"
	else bad "kubectl in resourceNames mode" "$out" "$err"; fi
	ctl unforbid
fi

# ------------------------------------------------------------ python3-kubernetes
# Each Python checker prints its own ok / not ok lines; show them indented.
if timeout 60 "$PY" "$K8S/pyclient.py" "$D" >"$W/py.out" 2>&1; then
	ok "python3-kubernetes: $(sed -n 's/^# pyclient: //p' "$W/py.out")"
else bad "python3-kubernetes client checks"; fi
sed 's/^/#   /' "$W/py.out"

# ------------------------------------------------------------ wire semantics
if timeout 120 "$PY" "$K8S/semantics.py" "$D" >"$W/sem.out" 2>&1; then
	ok "wire semantics: $(sed -n 's/^# semantics: //p' "$W/sem.out")"
else bad "wire semantics"; fi
sed 's/^/#   /' "$W/sem.out"

# ------------------------------------------------------------ shutdown
if grep -q Traceback "$W/server.log"; then
	bad "the server logged a traceback" "$W/server.log"
fi
kill -TERM "$spid"
i=0
while kill -0 "$spid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$spid" 2>/dev/null; then
	bad "SIGTERM: the server is still running after 10 s"
else
	wait "$spid"; rc=$?; spid=
	if [ "$rc" = 0 ]; then ok "SIGTERM: clean exit"; else bad "SIGTERM: exit status $rc" "$W/server.log"; fi
fi

echo "k8s_faithful: $pass passed, $fail failed$skipped"
[ "$fail" = 0 ]
