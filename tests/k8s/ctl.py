#!/usr/bin/python3
"""Drive the test API server (apiserver.py) from tests.

As a module:

    srv = ctl.Server("/tmp/x")          # state directory
    srv.start(["--bookmark-interval", "1"])
    srv.put("default", "app", data={"a.yaml": "x: 1\\n"})
    code, hdrs, body = srv.api("GET", "/api/v1/namespaces/default/configmaps/app")
    for ev in srv.watch("/api/v1/namespaces/default/configmaps?watch=1"): ...
    srv.cut(mid_chunk=True); srv.stop()

As a command (for shell and C tests), `ctl.py --dir DIR COMMAND ...`;
`ctl.py --help` lists the commands.  Exit status 0 on success, 1 when the
server answered with an error, 2 on usage errors or when it is unreachable.
Only the Python standard library is used.
"""

import argparse
import base64
import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
APISERVER = os.path.join(HERE, "apiserver.py")


class Error(Exception):
    pass


class Server:
    """A handle on one server's state directory (running or not)."""

    def __init__(self, d):
        self.dir = os.path.abspath(d)
        self.proc = None

    # -- files the server writes

    def path(self, name):
        return os.path.join(self.dir, name)

    @property
    def port(self):
        with open(self.path("port")) as f:
            return int(f.read().strip())

    @property
    def host(self):
        with open(self.path("url")) as f:
            return urllib.parse.urlsplit(f.read().strip()).hostname

    @property
    def token(self):
        with open(self.path("token")) as f:
            return f.readline().split(",")[0].strip()

    @property
    def kubeconfig(self):
        return self.path("kubeconfig")

    # -- lifecycle

    def start(self, args=(), timeout=30.0, python=sys.executable, log=None):
        """Start the server in the background and wait until it answers."""
        os.makedirs(self.dir, exist_ok=True)
        try:
            os.unlink(self.path("port"))
        except FileNotFoundError:
            pass
        out = open(log or self.path("server.log"), "ab")
        self.proc = subprocess.Popen([python, APISERVER, "--dir", self.dir] + list(args),
                                     stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        with open(self.path("pid"), "w") as f:
            f.write("%d\n" % self.proc.pid)
        self.wait_ready(timeout)
        return self.proc.pid

    def wait_ready(self, timeout=30.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise Error("server exited with status %d; see %s"
                            % (self.proc.returncode, self.path("server.log")))
            if os.path.exists(self.path("port")):
                try:
                    if self.request("GET", "/healthz", auth=False)[0] == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise Error("server in %s not ready after %.0fs" % (self.dir, timeout))

    def stop(self, timeout=10.0):
        """SIGTERM the server this handle (or DIR/pid) names, and wait."""
        pid = self.proc.pid if self.proc else None
        if pid is None:
            try:
                with open(self.path("pid")) as f:
                    pid = int(f.read().strip())
            except (OSError, ValueError):
                return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc is not None:
                if self.proc.poll() is not None:
                    return
            else:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)

    # -- HTTP

    def connect(self, timeout=30.0, client_cert=False):
        ctx = ssl.create_default_context(cafile=self.path("ca.crt"))
        if client_cert:
            ctx.load_cert_chain(self.path("client.crt"), self.path("client.key"))
        return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=ctx)

    def request(self, method, path, body=None, headers=None, auth=True, token=None,
                timeout=30.0):
        """One request on a fresh connection: (status, headers, body bytes)."""
        h = {"Accept": "application/json", "User-Agent": "hotcfg-ctl"}
        if auth:
            h["Authorization"] = "Bearer %s" % (token if token is not None else self.token)
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        c = self.connect(timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()

    def api(self, method, path, body=None, **kw):
        """Like request(), with the body decoded as JSON when it is JSON."""
        code, hdrs, raw = self.request(method, path, body, **kw)
        try:
            return code, hdrs, json.loads(raw.decode() or "null")
        except ValueError:
            return code, hdrs, raw

    def watch(self, path, token=None, timeout=30.0, headers=None):
        """Yield decoded watch events from a streaming GET until the server
        ends the stream; http.client raises IncompleteRead (or another
        OSError) when the stream is cut instead."""
        h = {"Accept": "application/json",
             "Authorization": "Bearer %s" % (token if token is not None else self.token)}
        h.update(headers or {})
        c = self.connect(timeout)
        try:
            c.request("GET", path, headers=h)
            r = c.getresponse()
            if r.status != 200:
                raise Error("watch answered %d: %s" % (r.status, r.read().decode(errors="replace")))
            while True:
                line = r.readline()
                if not line:
                    return
                yield json.loads(line)
        finally:
            c.close()

    def control(self, method, path, body=None):
        code, _, out = self.api(method, "/_test/" + path, body if body is not None else {},
                                auth=False)
        if code >= 400:
            raise Error("%s /_test/%s: %d %s" % (method, path, code, out))
        return out

    # -- control API conveniences

    def put(self, ns, name, data=None, binary=None, labels=None, annotations=None,
            immutable=None, validate=True):
        """Create or replace a ConfigMap directly (no auth, faults or RBAC).
        binary values are bytes; they are base64-encoded here."""
        body = {}
        if data is not None:
            body["data"] = data
        if binary is not None:
            body["binaryData"] = {k: base64.b64encode(v).decode() for k, v in binary.items()}
        if labels is not None:
            body["labels"] = labels
        if annotations is not None:
            body["annotations"] = annotations
        if immutable is not None:
            body["immutable"] = immutable
        if not validate:
            body["validate"] = False
        return self.control("PUT", "configmaps/%s/%s" % (ns, name), body)

    def get(self, ns, name):
        return self.control("GET", "configmaps/%s/%s" % (ns, name))

    def delete(self, ns, name):
        return self.control("DELETE", "configmaps/%s/%s" % (ns, name))

    def cut(self, mid_chunk=False, mid_line=False, rst=False, clean=False, all=False):
        return self.control("POST", "cut", {"mid_chunk": mid_chunk, "mid_line": mid_line,
                                            "rst": rst, "clean": clean, "all": all})

    def compact(self, rv=None):
        return self.control("POST", "compact", {} if rv is None else {"resourceVersion": rv})["floor"]

    def fault(self, code=None, action=None, count=1, **kw):
        rule = dict(kw, count=count)
        if code is not None:
            rule["code"] = code
        if action is not None:
            rule["action"] = action
        return self.control("POST", "faults", rule)

    def clear_faults(self):
        return self.control("DELETE", "faults")

    def forbid(self, names, verbs=None):
        body = {"names": names}
        if verbs is not None:
            body["verbs"] = verbs
        return self.control("POST", "forbid", body)

    def unforbid(self):
        return self.control("POST", "forbid", {"names": None})

    def config(self, **kw):
        return self.control("POST", "config", kw)

    def rotate_token(self, new):
        """Replace the token file atomically (the server re-reads it on
        every request; so does a client reading the same file)."""
        tmp = self.path("token.new")
        with open(tmp, "w") as f:
            f.write(new)
        os.replace(tmp, self.path("token"))

    def log(self, since=0):
        return self.control("GET", "log?since=%d" % since)

    def clear_log(self):
        return self.control("DELETE", "log")

    def state(self):
        return self.control("GET", "state")

    def watches(self):
        return self.control("GET", "watches")

    def wait_watches(self, n=1, timeout=20.0):
        """Wait until at least n watch streams are open."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.state()["watches"] >= n:
                return True
            time.sleep(0.05)
        raise Error("fewer than %d watches open after %.0fs" % (n, timeout))


# ---------------------------------------------------------------- CLI

def kv_pairs(items):
    out = {}
    for it in items or ():
        k, sep, v = it.partition("=")
        if not sep:
            raise SystemExit("ctl: expected KEY=VALUE, got %r" % it)
        out[k] = v
    return out


def read_files(items, binary=False):
    out = {}
    for k, path in kv_pairs(items).items():
        with open(path, "rb") as f:
            raw = f.read()
        out[k] = raw if binary else raw.decode("utf-8")
    return out


def split_ref(ref):
    ns, sep, name = ref.partition("/")
    if not sep or not ns or not name:
        raise SystemExit("ctl: expected NAMESPACE/NAME, got %r" % ref)
    return ns, name


def main(argv=None):
    ap = argparse.ArgumentParser(prog="ctl.py", description="Control the hotcfg test API server.")
    ap.add_argument("--dir", required=True, help="the server's state directory")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("start", help="start in the background, print the pid when ready")
    p.add_argument("args", nargs=argparse.REMAINDER, help="extra apiserver.py options")
    sub.add_parser("stop", help="SIGTERM the server named by DIR/pid")
    p = sub.add_parser("wait", help="wait until the server answers")
    p.add_argument("--timeout", type=float, default=30)
    p = sub.add_parser("put", help="create or replace NS/NAME")
    p.add_argument("ref")
    p.add_argument("pairs", nargs="*", metavar="KEY=VALUE")
    p.add_argument("--from-file", action="append", metavar="KEY=PATH")
    p.add_argument("--binary", action="append", metavar="KEY=PATH")
    p.add_argument("--label", action="append", metavar="K=V")
    p.add_argument("--annotation", action="append", metavar="K=V")
    p.add_argument("--immutable", action="store_true")
    p.add_argument("--no-validate", action="store_true", help="plant an object the API would refuse")
    p = sub.add_parser("get", help="print NS/NAME as JSON")
    p.add_argument("ref")
    p = sub.add_parser("delete", help="delete NS/NAME")
    p.add_argument("ref")
    p = sub.add_parser("cut", help="abort open watch streams")
    p.add_argument("--mid-chunk", action="store_true", help="leave a chunk half sent")
    p.add_argument("--mid-line", action="store_true", help="leave an event line half sent")
    p.add_argument("--rst", action="store_true", help="reset instead of FIN")
    p.add_argument("--clean", action="store_true", help="end the streams properly instead")
    p.add_argument("--all", action="store_true", help="also idle keep-alive connections")
    p = sub.add_parser("compact", help="raise the history floor (to RV, default now)")
    p.add_argument("rv", nargs="?", type=int)
    p = sub.add_parser("fault", help="inject failures into the next requests")
    p.add_argument("what", help="an HTTP code (429, 500, 503...), reset or delay")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--retry-after", type=int)
    p.add_argument("--seconds", type=float)
    p.add_argument("--path", help="only requests whose path contains this")
    p.add_argument("--verb", help="only this verb (get, list, watch, create, update, patch, delete)")
    sub.add_parser("clear-faults")
    p = sub.add_parser("forbid", help="resourceNames mode: only these names readable")
    p.add_argument("names", nargs="*")
    p.add_argument("--verbs", help="comma-separated allowed verbs (default get,list,watch)")
    sub.add_parser("unforbid")
    p = sub.add_parser("config", help="set runtime settings KEY=VALUE")
    p.add_argument("pairs", nargs="+")
    p = sub.add_parser("token", help="rotate the token file to TOKEN")
    p.add_argument("token")
    p = sub.add_parser("log", help="print the request log as JSON lines")
    p.add_argument("--since", type=int, default=0)
    sub.add_parser("clear-log")
    sub.add_parser("state")
    sub.add_parser("watches")
    p = sub.add_parser("wait-watches", help="wait until N watches are open")
    p.add_argument("n", type=int, nargs="?", default=1)
    p.add_argument("--timeout", type=float, default=20)
    sub.add_parser("shutdown", help="ask the server to exit")
    a = ap.parse_args(argv)
    srv = Server(a.dir)

    def show(obj):
        print(json.dumps(obj, indent=2))

    try:
        if a.cmd == "start":
            args = [x for x in a.args if x != "--"]
            print(srv.start(args))
        elif a.cmd == "stop":
            srv.stop()
        elif a.cmd == "wait":
            srv.wait_ready(a.timeout)
        elif a.cmd == "put":
            ns, name = split_ref(a.ref)
            data = kv_pairs(a.pairs)
            data.update(read_files(a.from_file))
            show(srv.put(ns, name, data=data, binary=read_files(a.binary, True) or None,
                         labels=kv_pairs(a.label) or None,
                         annotations=kv_pairs(a.annotation) or None,
                         immutable=True if a.immutable else None,
                         validate=not a.no_validate))
        elif a.cmd == "get":
            show(srv.get(*split_ref(a.ref)))
        elif a.cmd == "delete":
            show(srv.delete(*split_ref(a.ref)))
        elif a.cmd == "cut":
            show(srv.cut(a.mid_chunk, a.mid_line, a.rst, a.clean, a.all))
        elif a.cmd == "compact":
            print(srv.compact(a.rv))
        elif a.cmd == "fault":
            kw = {k: v for k, v in (("retry_after", a.retry_after), ("seconds", a.seconds),
                                    ("path", a.path), ("verb", a.verb)) if v is not None}
            if a.what.isdigit():
                show(srv.fault(code=int(a.what), count=a.count, **kw))
            else:
                show(srv.fault(action=a.what, count=a.count, **kw))
        elif a.cmd == "clear-faults":
            srv.clear_faults()
        elif a.cmd == "forbid":
            show(srv.forbid(a.names, a.verbs.split(",") if a.verbs else None))
        elif a.cmd == "unforbid":
            srv.unforbid()
        elif a.cmd == "config":
            conf = {}
            for k, v in kv_pairs(a.pairs).items():
                try:
                    conf[k] = json.loads(v)
                except ValueError:
                    conf[k] = v
            show(srv.config(**conf))
        elif a.cmd == "token":
            srv.rotate_token(a.token)
        elif a.cmd == "log":
            for e in srv.log(a.since):
                print(json.dumps(e))
        elif a.cmd == "clear-log":
            srv.clear_log()
        elif a.cmd == "state":
            show(srv.state())
        elif a.cmd == "watches":
            show(srv.watches())
        elif a.cmd == "wait-watches":
            srv.wait_watches(a.n, a.timeout)
        elif a.cmd == "shutdown":
            srv.control("POST", "shutdown")
    except Error as e:
        print("ctl: %s" % e, file=sys.stderr)
        return 1
    except OSError as e:
        print("ctl: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
