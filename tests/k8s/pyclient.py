#!/usr/bin/python3
"""Check the test API server with the official Python client (Debian's
python3-kubernetes), configured only by the kubeconfig files the server
wrote.  Usage: pyclient.py STATE_DIR.  Prints "ok N - ..." / "not ok N -
..." lines; the exit status is the number of failures.

Run it with /usr/bin/python3: that is the interpreter the Debian package
installs the module for.
"""

import os
import sys
import threading
import traceback

from kubernetes import client, config, watch

sys.dont_write_bytecode = True     # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ctl  # noqa: E402

NS = "py"
results = []


def check(what):
    def deco(fn):
        try:
            fn()
            results.append((True, ""))
        except Exception as e:
            results.append((False, "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc())))
        ok, why = results[-1]
        print("%s %d - %s%s" % ("ok" if ok else "not ok", len(results), what,
                                "" if ok else ": " + why.replace("\n", "\n# ")), flush=True)
        return fn
    return deco


def api_for(kubeconfig):
    cfg = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)
    return client.CoreV1Api(client.ApiClient(cfg))


def main():
    srv = ctl.Server(sys.argv[1])
    v1 = api_for(srv.path("kubeconfig"))
    srv.put(NS, "app", data={"app.yaml": "port: 8080\n", "mode": "blue"})

    @check("list_namespaced_config_map: items and a list resourceVersion")
    def _():
        lst = v1.list_namespaced_config_map(NS)
        assert [i.metadata.name for i in lst.items] == ["app"], lst.items
        assert lst.metadata.resource_version.isdigit(), lst.metadata
        assert lst.items[0].data == {"app.yaml": "port: 8080\n", "mode": "blue"}, lst.items[0].data
        one = v1.read_namespaced_config_map("app", NS)
        assert one.metadata.uid and one.metadata.creation_timestamp is not None, one.metadata

    @check("watch.Watch().stream: synthetic ADDED, then MODIFIED and ADDED from changes")
    def _():
        seen = []

        def change():
            srv.wait_watches(1)
            v1.patch_namespaced_config_map("app", NS, {"data": {"mode": "green"}})
            v1.create_namespaced_config_map(NS, client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name="later"), data={"k": "v"}))
        t = threading.Thread(target=change, daemon=True)
        t.start()
        w = watch.Watch()
        for ev in w.stream(v1.list_namespaced_config_map, NS, timeout_seconds=20):
            o = ev["object"]
            seen.append((ev["type"], o.metadata.name, (o.data or {}).get("mode")))
            if ev["type"] == "ADDED" and o.metadata.name == "later":
                w.stop()
        t.join(5)
        assert seen == [("ADDED", "app", "blue"), ("MODIFIED", "app", "green"),
                        ("ADDED", "later", None)], seen

    @check("watch from a resourceVersion: DELETED event; compacted RV raises ApiException 410 Expired")
    def _():
        rv = v1.list_namespaced_config_map(NS).metadata.resource_version
        v1.delete_namespaced_config_map("later", NS)
        w = watch.Watch()
        evs = []
        for ev in w.stream(v1.list_namespaced_config_map, NS, resource_version=rv, timeout_seconds=5):
            evs.append((ev["type"], ev["object"].metadata.name))
            w.stop()
        assert evs == [("DELETED", "later")], evs
        srv.put(NS, "app", data={"mode": "red"})
        srv.compact()
        try:
            for ev in watch.Watch().stream(v1.list_namespaced_config_map, NS,
                                           resource_version=rv, timeout_seconds=5):
                raise AssertionError("unexpected event %r" % (ev["type"],))
            raise AssertionError("no ERROR event")
        except client.ApiException as e:
            assert e.status == 410 and e.reason.startswith("Expired: too old resource version"), \
                (e.status, e.reason)

    @check("errors surface as ApiException: 404 on read, 409 on a stale replace")
    def _():
        try:
            v1.read_namespaced_config_map("nope", NS)
            raise AssertionError("read of a missing ConfigMap succeeded")
        except client.ApiException as e:
            assert e.status == 404, e.status
        cur = v1.read_namespaced_config_map("app", NS)
        cur.metadata.resource_version = str(int(cur.metadata.resource_version) - 1)
        try:
            v1.replace_namespaced_config_map("app", NS, cur)
            raise AssertionError("stale replace succeeded")
        except client.ApiException as e:
            assert e.status == 409 and "Conflict" in e.body, (e.status, e.body)

    @check("kubeconfig variants: client certificate and tokenFile authenticate")
    def _():
        for name in ("kubeconfig-cert", "kubeconfig-tokenfile"):
            lst = api_for(srv.path(name)).list_namespaced_config_map(NS)
            assert [i.metadata.name for i in lst.items] == ["app"], (name, lst.items)

    failed = sum(1 for ok, _ in results if not ok)
    print("# pyclient: %d passed, %d failed" % (len(results) - failed, failed))
    return failed


if __name__ == "__main__":
    sys.exit(main())
