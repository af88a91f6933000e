#!/bin/sh
# etc_yaml.sh - the deployment files and examples are valid and agree with
# each other.
#
#  1. every *.yaml / *.yml under etc/ and examples/ parses (all documents,
#     PyYAML safe_load_all);
#  2. etc/kubernetes/ holds the objects it should, wired together: a
#     Deployment whose pod shares an emptyDir (medium Memory) between the
#     service and the hotcfgd sidecar (service side read-only), with an exec
#     probe running `hotcfg status`; a ServiceAccount, a Role allowing only
#     get, list and watch on configmaps restricted by resourceNames, and a
#     RoleBinding tying them; a ConfigMap with an app.yaml data key - and
#     the names match across the files;
#  3. with a built agent ($HOTCFG_BUILD/hotcfgd): `hotcfgd -n` accepts
#     etc/hotcfgd.yaml (every setting in it), examples/hotcfgd.yaml (as
#     `make run` uses it, from the top of the tree) and the ConfigMap's data
#     as a directory source;
#  4. `systemd-analyze verify` accepts etc/systemd/hotcfgd.service (skipped,
#     with a note, where systemd-analyze is missing).
# Exit status: 0 when all hold, 1 otherwise.
set -u

src=${HOTCFG_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
build=${HOTCFG_BUILD:-$src/build}
py=/usr/bin/python3
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

if ! "$py" -c 'import yaml' 2>/dev/null; then
	echo "FAIL: $py with the yaml module is needed (python3-yaml)"
	exit 1
fi

# 1 and 2, in Python: the YAML is parsed by PyYAML, the objects checked.
"$py" - "$src" "$tmp" <<'EOF' || fail=1
import glob, os, sys
import yaml

src, tmp = sys.argv[1], sys.argv[2]
bad = []

def fail(msg):
    bad.append(msg)
    print("FAIL: " + msg)

docs = {}
files = []
for top in ("etc", "examples"):
    for ext in ("yaml", "yml"):
        files += glob.glob(os.path.join(src, top, "**", "*." + ext),
                           recursive=True)
if len(files) < 6:
    fail("expected YAML files under etc/ and examples/, found %d" % len(files))
for f in sorted(files):
    rel = os.path.relpath(f, src)
    try:
        with open(f) as fp:
            docs[rel] = [d for d in yaml.safe_load_all(fp) if d is not None]
        print("parsed %s (%d documents)" % (rel, len(docs[rel])))
    except yaml.YAMLError as e:
        fail("%s does not parse: %s" % (rel, e))

def objects(rel):
    out = {}
    for d in docs.get(rel, []):
        if not isinstance(d, dict) or "kind" not in d:
            fail("%s: a document that is not a Kubernetes object" % rel)
            continue
        if "apiVersion" not in d or "name" not in d.get("metadata", {}):
            fail("%s: %s without apiVersion or metadata.name" %
                 (rel, d["kind"]))
        out.setdefault(d["kind"], []).append(d)
    return out

k8s = "etc/kubernetes/"
dep = objects(k8s + "deployment.yaml").get("Deployment", [])
rbac = objects(k8s + "rbac.yaml")
cms = objects(k8s + "configmap.yaml").get("ConfigMap", [])
for kind in ("ServiceAccount", "Role", "RoleBinding"):
    if len(rbac.get(kind, [])) != 1:
        fail("rbac.yaml: expected one %s, found %d" %
             (kind, len(rbac.get(kind, []))))
if len(dep) != 1:
    fail("deployment.yaml: expected one Deployment, found %d" % len(dep))
if len(cms) != 1:
    fail("configmap.yaml: expected one ConfigMap, found %d" % len(cms))
if len(dep) != 1 or len(cms) != 1 or any(
        len(rbac.get(k, [])) != 1
        for k in ("ServiceAccount", "Role", "RoleBinding")):
    sys.exit(1)
dep, cm = dep[0], cms[0]
sa, role, rb = rbac["ServiceAccount"][0], rbac["Role"][0], \
    rbac["RoleBinding"][0]
ns = {o["metadata"].get("namespace") for o in (dep, cm, sa, role, rb)}
if len(ns) != 1:
    fail("the objects are in different namespaces: %s" % sorted(map(str, ns)))

# The ConfigMap: an app.yaml key that is itself YAML; dump the data keys
# for the agent check below.
data = cm.get("data", {})
if "app.yaml" not in data:
    fail("configmap.yaml: no app.yaml data key")
os.makedirs(os.path.join(tmp, "configmap"))
for key, text in data.items():
    if key.endswith((".yaml", ".yml", ".json")):
        try:
            list(yaml.safe_load_all(text))
        except yaml.YAMLError as e:
            fail("configmap.yaml: data key %s is not YAML: %s" % (key, e))
    with open(os.path.join(tmp, "configmap", key), "w") as fp:
        fp.write(text)
cmname = cm["metadata"]["name"]

# The Role: get, list, watch on configmaps, by resourceNames, nothing more.
rules = role.get("rules", [])
if len(rules) != 1:
    fail("rbac.yaml: the Role should have one rule, it has %d" % len(rules))
for r in rules:
    if r.get("apiGroups") != [""] or r.get("resources") != ["configmaps"]:
        fail("rbac.yaml: the rule is not about core configmaps: %s" % r)
    if sorted(r.get("verbs", [])) != ["get", "list", "watch"]:
        fail("rbac.yaml: verbs should be get, list, watch: %s" %
             r.get("verbs"))
    if cmname not in r.get("resourceNames", []):
        fail("rbac.yaml: resourceNames %s lacks the ConfigMap %s" %
             (r.get("resourceNames"), cmname))
if rb.get("roleRef", {}).get("kind") != "Role" or \
        rb["roleRef"].get("name") != role["metadata"]["name"]:
    fail("rbac.yaml: the RoleBinding does not refer to the Role")
subj = rb.get("subjects", [])
if not any(s.get("kind") == "ServiceAccount" and
           s.get("name") == sa["metadata"]["name"] for s in subj):
    fail("rbac.yaml: the RoleBinding does not bind the ServiceAccount")

# The Deployment: a memory emptyDir shared by the sidecar and the service.
pod = dep["spec"]["template"]["spec"]
if pod.get("serviceAccountName") != sa["metadata"]["name"]:
    fail("deployment.yaml: serviceAccountName is not the ServiceAccount")
sel = dep["spec"].get("selector", {}).get("matchLabels", {})
labels = dep["spec"]["template"].get("metadata", {}).get("labels", {})
if not sel or any(labels.get(k) != v for k, v in sel.items()):
    fail("deployment.yaml: the selector does not match the pod labels")
vols = {v["name"]: v for v in pod.get("volumes", [])}
mem = [n for n, v in vols.items()
       if (v.get("emptyDir") or {}).get("medium") == "Memory"]
if len(mem) != 1:
    fail("deployment.yaml: expected one emptyDir with medium Memory")
containers = pod.get("initContainers", []) + pod.get("containers", [])
agent = [c for c in containers if "hotcfgd" in " ".join(
    c.get("command", []) + c.get("args", []) + [c.get("image", "")])]
service = [c for c in pod.get("containers", []) if c not in agent]
if len(agent) != 1 or not service:
    fail("deployment.yaml: expected a hotcfgd sidecar and a service container")
else:
    agent = agent[0]
    if agent in pod.get("initContainers", []) and \
            agent.get("restartPolicy") != "Always":
        fail("deployment.yaml: an init-container sidecar needs "
             "restartPolicy: Always")
    def mount(c):
        return [m for m in c.get("volumeMounts", []) if mem and
                m["name"] == mem[0]]
    am = mount(agent)
    if not am or am[0].get("readOnly"):
        fail("deployment.yaml: the sidecar must mount the volume writable")
    for c in service:
        sm = mount(c)
        if not sm or not sm[0].get("readOnly"):
            fail("deployment.yaml: %s must mount the volume read-only" %
                 c["name"])
        elif am and sm[0]["mountPath"] != am[0]["mountPath"]:
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            if env.get("HOTCFG_ROOT") != sm[0]["mountPath"]:
                fail("deployment.yaml: %s mounts the volume elsewhere "
                     "without HOTCFG_ROOT" % c["name"])
    args = " ".join(agent.get("args", []))
    if "configmap:" in args and "/" + cmname not in args:
        fail("deployment.yaml: the sidecar follows another ConfigMap than "
             "%s: %s" % (cmname, args))
    probes = [c.get(p) for c in containers
              for p in ("livenessProbe", "readinessProbe", "startupProbe")
              if c.get(p)]
    cmds = [" ".join(p.get("exec", {}).get("command", [])) for p in probes]
    if not any(c.startswith("hotcfg ") and " status" in c for c in cmds):
        fail("deployment.yaml: no exec probe runs `hotcfg status`: %s" % cmds)
    for c in containers:
        sc = c.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False:
            fail("deployment.yaml: %s may escalate privileges" % c["name"])
    if not pod.get("securityContext", {}).get("runAsNonRoot"):
        fail("deployment.yaml: the pod does not require runAsNonRoot")

# With the Kubernetes client library at hand, the objects must also load
# into its models (required fields present, types right).
try:
    import json
    import kubernetes.client as kc
    class Resp:
        def __init__(self, obj):
            self.data = json.dumps(obj)
    api = kc.ApiClient()
    for obj, model in ((dep, "V1Deployment"), (cm, "V1ConfigMap"),
                       (sa, "V1ServiceAccount"), (role, "V1Role"),
                       (rb, "V1RoleBinding")):
        try:
            api.deserialize(Resp(obj), model)
        except Exception as e:
            fail("%s %s does not load as %s: %s" %
                 (obj["kind"], obj["metadata"]["name"], model, e))
    print("the Kubernetes objects load into the client's models")
except ImportError:
    print("note: python3-kubernetes is not installed; models not checked")

print("Kubernetes objects: %s" % ", ".join(
    "%s/%s" % (o["kind"], o["metadata"]["name"])
    for o in (dep, sa, role, rb, cm)))
sys.exit(1 if bad else 0)
EOF

# 3. The agent's own configurations, checked by the agent.
agent=$build/hotcfgd
if [ -x "$agent" ]; then
	case $agent in /*) ;; *) agent=$(pwd)/$agent ;; esac
	# The command-line source replaces the file's (site-specific) sources,
	# so every other setting of the file is checked.
	if out=$("$agent" -n -c "$src/etc/hotcfgd.yaml" \
	    "$src/examples/app.yaml" 2>&1); then
		echo "hotcfgd -n: etc/hotcfgd.yaml: $out"
	else
		echo "FAIL: hotcfgd -n rejects etc/hotcfgd.yaml: $out"
		fail=1
	fi
	if out=$(cd "$src" && "$agent" -n -c examples/hotcfgd.yaml 2>&1); then
		echo "hotcfgd -n: examples/hotcfgd.yaml: $out"
	else
		echo "FAIL: hotcfgd -n rejects examples/hotcfgd.yaml: $out"
		fail=1
	fi
	if [ -d "$tmp/configmap" ]; then
		if out=$("$agent" -n "$tmp/configmap" 2>&1); then
			echo "hotcfgd -n: the ConfigMap's data: $out"
		else
			echo "FAIL: hotcfgd -n rejects the ConfigMap's data: $out"
			fail=1
		fi
	fi
else
	echo "note: $agent is not built; the agent's checks are skipped"
fi

# 4. The systemd unit.  Its programs are replaced by ones that exist here:
# verify checks that every Exec line names an executable.
unit=$src/etc/systemd/hotcfgd.service
if command -v systemd-analyze >/dev/null 2>&1; then
	true_bin=$(command -v true)
	mkdir -p "$tmp/unit"
	sed -e "s#/usr/local/sbin/hotcfgd#$true_bin#g" "$unit" \
	    >"$tmp/unit/hotcfgd.service"
	# --man=no: the pages are in man/, not installed.
	if out=$(systemd-analyze verify --man=no "$tmp/unit/hotcfgd.service" \
	    2>&1) && [ -z "$out" ]; then
		echo "systemd-analyze verify: hotcfgd.service OK"
	else
		echo "FAIL: systemd-analyze verify hotcfgd.service:"
		printf '%s\n' "$out" | sed 's/^/    /'
		fail=1
	fi
else
	echo "note: systemd-analyze is not installed; the unit is not verified"
fi
for key in "User=hotcfg" "NoNewPrivileges=yes" "ProtectSystem=strict" \
    "ProtectHome=yes" "PrivateTmp=yes" "CapabilityBoundingSet=" \
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" \
    "SystemCallFilter=@system-service" "ReadWritePaths=/dev/shm/hotcfg" \
    "Restart=on-failure" "RemoveIPC=no"; do
	if ! grep -qx "$key" "$unit"; then
		echo "FAIL: hotcfgd.service lacks the line $key"
		fail=1
	fi
done
if ! grep -q '^ExecStartPre=.*hotcfgd -n ' "$unit"; then
	echo "FAIL: hotcfgd.service does not check with hotcfgd -n before start"
	fail=1
fi
if grep -q '^DynamicUser=yes' "$unit"; then
	echo "FAIL: DynamicUser=yes removes the published files on stop"
	fail=1
fi

[ "$fail" = 0 ] && echo "deployment files OK" || echo "deployment files NOT OK"
exit "$fail"
