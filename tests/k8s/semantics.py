#!/usr/bin/python3
"""Check the test API server's wire semantics with a plain HTTP client.

Usage: semantics.py STATE_DIR   (a server must be running there)

Each check prints "ok N - what" or "not ok N - what: why"; the exit status
is the number of failures (capped at 100).  These are the behaviours
hotcfgd relies on and that the real API server shows: Status objects,
resourceVersion bookkeeping, watch event order, 410 Expired as an ERROR
event on an HTTP 200 stream, bookmarks, timeouts, auth, RBAC-style 403,
429 with Retry-After, the 1 MiB ConfigMap limit, and cut connections.
"""

import json
import os
import sys
import threading
import time
import traceback

sys.dont_write_bytecode = True     # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ctl  # noqa: E402

NS = "sem"
CM = "/api/v1/namespaces/%s/configmaps" % NS

results = []


SRV = None


def check(what):
    def deco(fn):
        try:
            SRV.clear_faults()      # each check starts from a clean server
            SRV.unforbid()
            fn()
            results.append((True, what, ""))
        except Exception as e:  # a failed assertion or any surprise
            why = "%s: %s" % (type(e).__name__, e)
            if not isinstance(e, AssertionError):
                why += "\n" + traceback.format_exc()
            results.append((False, what, why))
        ok, _, why = results[-1]
        print("%s %d - %s%s" % ("ok" if ok else "not ok", len(results), what,
                                "" if ok else ": " + why.replace("\n", "\n# ")), flush=True)
        return fn
    return deco


def eq(a, b, what=""):
    assert a == b, "%s: expected %r, got %r" % (what, b, a)


class Watcher(threading.Thread):
    """Collects a watch stream's events in the background; records how it
    ended (clean end, or the exception a cut caused)."""

    def __init__(self, srv, path, token=None):
        super().__init__(daemon=True)
        self.srv, self.path, self.token = srv, path, token
        self.events, self.status, self.end = [], None, None
        self.started = threading.Event()

    def run(self):
        c = self.srv.connect(timeout=30)
        try:
            c.request("GET", self.path, headers={
                "Authorization": "Bearer %s" % (self.token or self.srv.token),
                "Accept": "application/json"})
            r = c.getresponse()
            self.status = r.status
            self.started.set()
            while True:
                line = r.readline()
                if not line:
                    self.end = "clean"
                    return
                self.events.append(json.loads(line))
        except Exception as e:
            self.end = "%s: %s" % (type(e).__name__, e)
        finally:
            self.started.set()
            c.close()

    def wait_for(self, pred, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(pred(e) for e in list(self.events)):
                return True
            if self.end is not None:
                break
            time.sleep(0.02)
        return any(pred(e) for e in list(self.events))

    def types(self):
        return [(e["type"], e["object"].get("metadata", {}).get("name")) for e in self.events]


def main():
    global SRV
    srv = SRV = ctl.Server(sys.argv[1])
    api = srv.api

    @check("discovery: /api, /apis, /api/v1 lists configmaps (cm, namespaced, watch verb)")
    def _():
        code, _, b = api("GET", "/api")
        eq(code, 200, "/api")
        eq(b["kind"], "APIVersions")
        assert "v1" in b["versions"]
        code, _, b = api("GET", "/apis")
        eq((code, b["kind"]), (200, "APIGroupList"))
        code, _, b = api("GET", "/api/v1")
        eq(b["kind"], "APIResourceList")
        cm = [r for r in b["resources"] if r["name"] == "configmaps"][0]
        eq(cm["kind"], "ConfigMap")
        eq(cm["shortNames"], ["cm"])
        assert cm["namespaced"] is True
        assert {"get", "list", "watch", "create", "update", "patch", "delete"} <= set(cm["verbs"])
        code, _, b = api("GET", "/version", auth=False)
        eq(code, 200, "/version without credentials")
        assert b["major"] == "1" and b["gitVersion"].startswith("v1.")

    @check("401 Status for a wrong or a missing token")
    def _():
        for kw in ({"token": "wrong"}, {"auth": False}):
            code, _, b = api("GET", CM, **kw)
            eq(code, 401, str(kw))
            eq((b["kind"], b["status"], b["reason"], b["code"], b["message"]),
               ("Status", "Failure", "Unauthorized", 401, "Unauthorized"))

    @check("token file re-read per request: old token 401 after rotation, new one 200")
    def _():
        old = srv.token
        srv.rotate_token("rotated-" + old[:8])
        try:
            eq(api("GET", CM, token=old)[0], 401, "old token")
            eq(api("GET", CM, token="rotated-" + old[:8])[0], 200, "new token")
        finally:
            srv.rotate_token(old)
        eq(api("GET", CM)[0], 200, "restored token")

    @check("create: 201 with uid, numeric resourceVersion, creationTimestamp; duplicate 409 AlreadyExists")
    def _():
        code, _, b = api("POST", CM, {"apiVersion": "v1", "kind": "ConfigMap",
                                      "metadata": {"name": "one", "labels": {"tier": "a"}},
                                      "data": {"k": "v1"}})
        eq(code, 201, "create")
        md = b["metadata"]
        eq((b["kind"], b["apiVersion"], md["name"], md["namespace"]), ("ConfigMap", "v1", "one", NS))
        assert md["resourceVersion"].isdigit() and len(md["uid"]) == 36, md
        assert md["creationTimestamp"].endswith("Z"), md
        code, _, b = api("POST", CM, {"metadata": {"name": "one"}, "data": {}})
        eq((code, b["reason"], b["details"]["name"], b["details"]["kind"]),
           (409, "AlreadyExists", "one", "configmaps"))
        eq(b["message"], 'configmaps "one" already exists')

    @check("get: 200; missing 404 NotFound Status naming the object")
    def _():
        code, _, b = api("GET", CM + "/one")
        eq((code, b["data"]), (200, {"k": "v1"}))
        code, _, b = api("GET", CM + "/nope")
        eq((code, b["kind"], b["reason"], b["message"], b["details"]),
           (404, "Status", "NotFound", 'configmaps "nope" not found',
            {"name": "nope", "kind": "configmaps"}))

    @check("list: resourceVersion, fieldSelector, labelSelector, all namespaces, limit/continue")
    def _():
        srv.put(NS, "two", data={"k": "2"}, labels={"tier": "b"})
        code, _, b = api("GET", CM)
        eq((code, b["kind"]), (200, "ConfigMapList"))
        names = [i["metadata"]["name"] for i in b["items"]]
        eq(names, ["one", "two"], "items")
        listrv = int(b["metadata"]["resourceVersion"])
        assert all(int(i["metadata"]["resourceVersion"]) <= listrv for i in b["items"])
        b = api("GET", CM + "?fieldSelector=metadata.name%3Dtwo")[2]
        eq([i["metadata"]["name"] for i in b["items"]], ["two"], "fieldSelector")
        b = api("GET", CM + "?labelSelector=tier%20in%20(a)")[2]
        eq([i["metadata"]["name"] for i in b["items"]], ["one"], "labelSelector")
        b = api("GET", "/api/v1/configmaps?fieldSelector=metadata.namespace%3D" + NS)[2]
        eq(len(b["items"]), 2, "all-namespaces list")
        b = api("GET", CM + "?limit=1")[2]
        eq(len(b["items"]), 1, "limit")
        cont = b["metadata"]["continue"]
        b = api("GET", CM + "?limit=1&continue=" + cont)[2]
        eq([i["metadata"]["name"] for i in b["items"]], ["two"], "continue")
        code, _, b = api("GET", CM + "?fieldSelector=data.k%3Dx")
        eq((code, b["reason"]), (400, "BadRequest"))

    @check("update: stale resourceVersion 409 Conflict; current one bumps it; no-op keeps it")
    def _():
        cur = api("GET", CM + "/one")[2]
        rv = cur["metadata"]["resourceVersion"]
        stale = dict(cur, metadata=dict(cur["metadata"], resourceVersion=str(int(rv) - 1)))
        code, _, b = api("PUT", CM + "/one", stale)
        eq((code, b["reason"]), (409, "Conflict"))
        assert "the object has been modified" in b["message"], b["message"]
        cur["data"] = {"k": "v2"}
        code, _, b = api("PUT", CM + "/one", cur)
        eq(code, 200, "update")
        rv2 = b["metadata"]["resourceVersion"]
        assert int(rv2) > int(rv), (rv, rv2)
        eq(b["metadata"]["uid"], cur["metadata"]["uid"], "uid kept")
        b["metadata"].pop("resourceVersion")
        code, _, b2 = api("PUT", CM + "/one", b)
        eq((code, b2["metadata"]["resourceVersion"]), (200, rv2), "no-op update")
        code, _, b = api("PUT", CM + "/ghost", {"metadata": {"name": "ghost"}})
        eq(code, 404, "update of a missing object")

    @check("patch: merge, strategic (null deletes, $patch replace) and JSON patch")
    def _():
        h = lambda t: {"headers": {"Content-Type": t}}
        code, _, b = api("PATCH", CM + "/one", json.dumps({"data": {"m": "1"}}),
                         **h("application/merge-patch+json"))
        eq((code, b["data"]), (200, {"k": "v2", "m": "1"}), "merge")
        code, _, b = api("PATCH", CM + "/one", json.dumps({"data": {"k": None, "s": "2"}}),
                         **h("application/strategic-merge-patch+json"))
        eq((code, b["data"]), (200, {"m": "1", "s": "2"}), "strategic")
        code, _, b = api("PATCH", CM + "/one", json.dumps({"data": {"$patch": "replace", "r": "3"}}),
                         **h("application/strategic-merge-patch+json"))
        eq(b["data"], {"r": "3"}, "$patch: replace")
        code, _, b = api("PATCH", CM + "/one", json.dumps(
            [{"op": "add", "path": "/data/j", "value": "4"},
             {"op": "test", "path": "/data/r", "value": "3"}]),
            **h("application/json-patch+json"))
        eq((code, b["data"]), (200, {"r": "3", "j": "4"}), "json patch")
        code, _, b = api("PATCH", CM + "/one", json.dumps([{"op": "test", "path": "/data/r", "value": "x"}]),
                         **h("application/json-patch+json"))
        eq(code, 422, "failed json patch test op")

    @check("watch from a list's resourceVersion: MODIFIED then DELETED, in order, with new RVs")
    def _():
        listrv = api("GET", CM)[2]["metadata"]["resourceVersion"]
        w = Watcher(srv, CM + "?watch=true&resourceVersion=" + listrv)
        w.start()
        srv.wait_watches(1)
        srv.put(NS, "two", data={"k": "22"})
        code, _, _ = api("DELETE", CM + "/two")
        eq(code, 200, "delete")
        assert w.wait_for(lambda e: e["type"] == "DELETED"), w.types()
        srv.cut(clean=True)
        w.join(5)
        eq(w.types(), [("MODIFIED", "two"), ("DELETED", "two")], "events")
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in w.events]
        assert int(listrv) < rvs[0] < rvs[1], rvs
        eq(w.events[0]["object"]["data"], {"k": "22"}, "MODIFIED object")

    @check("watch with resourceVersion unset and \"0\": synthetic ADDED for current objects first")
    def _():
        for q in ("", "&resourceVersion=0"):
            w = Watcher(srv, CM + "?watch=1&timeoutSeconds=1" + q)
            w.start()
            w.join(10)
            eq(w.status, 200, "status")
            eq(w.types(), [("ADDED", "one")], "events for %r" % q)
            eq(w.end, "clean", "end")

    @check("history floor: an older RV gets HTTP 200 and one ERROR event, Status 410 Expired")
    def _():
        old = int(api("GET", CM)[2]["metadata"]["resourceVersion"])
        srv.put(NS, "one", data={"k": "after-compaction"})
        floor = srv.compact()
        assert floor > old, (floor, old)
        w = Watcher(srv, CM + "?watch=1&resourceVersion=%d" % old)
        w.start()
        w.join(10)
        eq(w.status, 200, "HTTP status")
        eq(len(w.events), 1, "one event")
        ev = w.events[0]
        eq(ev["type"], "ERROR")
        st = ev["object"]
        eq((st["kind"], st["apiVersion"], st["status"], st["code"], st["reason"]),
           ("Status", "v1", "Failure", 410, "Expired"))
        assert st["message"].startswith("too old resource version: %d" % old), st["message"]
        eq(w.end, "clean", "stream ends after the ERROR")
        code, _, b = api("GET", CM + "?resourceVersion=%d&resourceVersionMatch=Exact" % old)
        eq((code, b["reason"]), (410, "Expired"), "exact list below the floor")

    @check("bookmarks: only with allowWatchBookmarks=true; kind/apiVersion/metadata.resourceVersion only")
    def _():
        srv.config(bookmark_interval=0.5)
        try:
            w = Watcher(srv, CM + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=2&fieldSelector=metadata.name%3Done")
            n = Watcher(srv, CM + "?watch=1&timeoutSeconds=2&fieldSelector=metadata.name%3Done")
            w.start()
            n.start()
            w.join(10)
            n.join(10)
        finally:
            srv.config(bookmark_interval=60)
        bms = [e for e in w.events if e["type"] == "BOOKMARK"]
        assert len(bms) >= 2, w.types()
        o = bms[0]["object"]
        eq((o["kind"], o["apiVersion"]), ("ConfigMap", "v1"))
        eq(sorted(o), ["apiVersion", "kind", "metadata"], "bookmark object keys")
        assert o["metadata"]["resourceVersion"].isdigit()
        assert not [e for e in n.events if e["type"] == "BOOKMARK"], n.types()
        log = [e for e in srv.log() if e.get("watch") and "allowWatchBookmarks=true" in e["query"]]
        assert log and log[-1]["params"]["timeoutSeconds"] == "2", log

    @check("timeoutSeconds ends the stream cleanly (terminating chunk)")
    def _():
        t0 = time.time()
        w = Watcher(srv, CM + "?watch=1&resourceVersion=%s&timeoutSeconds=1"
                    % api("GET", CM)[2]["metadata"]["resourceVersion"])
        w.start()
        w.join(10)
        took = time.time() - t0
        eq(w.end, "clean", "end")
        assert 0.9 <= took < 5, took

    @check("resourceNames 403 mode: only the named ConfigMap, by get, list or watch with its name")
    def _():
        srv.forbid(["one"])
        try:
            eq(api("GET", CM + "/one")[0], 200, "allowed get")
            code, _, b = api("GET", CM + "/other")
            eq((code, b["reason"], b["details"]), (403, "Forbidden", {"name": "other", "kind": "configmaps"}))
            user = "system:serviceaccount:default:hotcfg"
            eq(b["message"], 'configmaps "other" is forbidden: User "%s" cannot get resource '
                             '"configmaps" in API group "" in the namespace "%s"' % (user, NS))
            code, _, b = api("GET", CM)
            eq(code, 403, "unfiltered list")
            assert "cannot list resource" in b["message"], b["message"]
            eq(api("GET", CM + "?fieldSelector=metadata.name%3Done")[0], 200, "list by name")
            w = Watcher(srv, CM + "?watch=1&timeoutSeconds=1&fieldSelector=metadata.name%3Done")
            w.start()
            w.join(10)
            eq(w.status, 200, "watch by name")
            code, _, b = api("GET", CM + "?watch=1&fieldSelector=metadata.name%3Dother")
            eq(code, 403, "watch of another name")
            assert "cannot watch resource" in b["message"], b["message"]
        finally:
            srv.unforbid()
        eq(api("GET", CM)[0], 200, "after unforbid")

    @check("429 TooManyRequests with Retry-After for the next N requests, then served")
    def _():
        srv.fault(code=429, count=2, retry_after=3, path="/configmaps")
        for _ in range(2):
            code, hdrs, b = api("GET", CM)
            eq((code, hdrs.get("Retry-After"), b["reason"], b["details"]["retryAfterSeconds"]),
               (429, "3", "TooManyRequests", 3))
        eq(api("GET", CM)[0], 200, "after the faults")

    @check("5xx injection: 500 InternalError and 503 ServiceUnavailable Status objects")
    def _():
        srv.fault(code=500)
        code, _, b = api("GET", CM)
        eq((code, b["reason"], b["code"]), (500, "InternalError", 500))
        srv.fault(code=503, verb="watch")
        eq(api("GET", CM)[0], 200, "verb filter skips a list")
        code, _, b = api("GET", CM + "?watch=1")
        eq((code, b["reason"]), (503, "ServiceUnavailable"))

    @check("ConfigMap over 1 MiB of data+binaryData refused with 422 Invalid; exactly 1 MiB accepted")
    def _():
        big = {"metadata": {"name": "big"}, "data": {"a": "x" * (1048576 - 10)},
               "binaryData": {"b": "QUJDREVGR0hJSks="}}          # 11 decoded bytes
        code, _, b = api("POST", CM, big)
        eq((code, b["reason"], b["code"]), (422, "Invalid", 422))
        eq(b["message"], 'ConfigMap "big" is invalid: []: Too long: must have at most 1048576 bytes')
        eq(b["details"]["causes"][0]["reason"], "FieldValueTooLong")
        big["binaryData"] = {"b": "QUJDREVGR0hJSg=="}            # 10 bytes: exactly 1 MiB
        eq(api("POST", CM, big)[0], 201, "exactly 1 MiB")
        big["data"]["a"] += "y"
        big["metadata"] = api("GET", CM + "/big")[2]["metadata"]
        code, _, b = api("PUT", CM + "/big", big)
        eq((code, b["reason"]), (422, "Invalid"), "update past the limit")
        eq(api("DELETE", CM + "/big")[0], 200, "delete")

    @check("request body over the server limit: 413 RequestEntityTooLarge")
    def _():
        code, _, b = api("POST", CM, {"metadata": {"name": "huge"}, "data": {"a": "x" * (3 * 1048576)}})
        eq((code, b["reason"]), (413, "RequestEntityTooLarge"))

    @check("cut mid-chunk: the client sees a truncated stream, not a clean end")
    def _():
        w = Watcher(srv, CM + "?watch=1")
        w.start()
        srv.wait_watches(1)
        assert w.wait_for(lambda e: e["type"] == "ADDED"), w.types()
        r = srv.cut(mid_chunk=True)
        eq(r["watches"], 1, "watches cut")
        w.join(10)
        assert w.end not in (None, "clean"), w.end
        eq(srv.state()["watches"], 0, "no watch left open")

    @check("cut mid-line with RST, and chunks split every 7 bytes: events still parse whole")
    def _():
        srv.config(chunk_mode="split", chunk_size=7)
        try:
            w = Watcher(srv, CM + "?watch=1")
            w.start()
            srv.wait_watches(1)
            srv.put(NS, "one", data={"k": "split"})
            assert w.wait_for(lambda e: e["type"] == "MODIFIED"), w.types()
            srv.cut(mid_line=True, rst=True)
            w.join(10)
        finally:
            srv.config(chunk_mode="event")
        eq(w.types()[-1], ("MODIFIED", "one"))
        eq(w.events[-1]["object"]["data"], {"k": "split"})
        assert w.end not in (None, "clean"), w.end

    @check("request log records method, path, query and the watch flag")
    def _():
        entries = [e for e in srv.log() if e["path"].startswith(CM)]
        assert any(e["method"] == "PATCH" and e["content_type"] == "application/json-patch+json"
                   and e["status"] == 200 for e in entries), "no json-patch PATCH logged"
        ws = [e for e in entries if e.get("watch")]
        assert ws and all(e["params"].get("watch") in ("1", "true") for e in ws), ws
        assert any(e["status"] == 429 and e["reason"] == "TooManyRequests" for e in entries), \
            "no 429 logged"
        assert any(e["params"].get("fieldSelector") == "metadata.name=one" for e in entries), \
            "no fieldSelector logged"

    failed = sum(1 for ok, _, _ in results if not ok)
    print("# semantics: %d passed, %d failed" % (len(results) - failed, failed))
    return min(failed, 100)


if __name__ == "__main__":
    sys.exit(main())
