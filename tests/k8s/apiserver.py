#!/usr/bin/python3
"""A small Kubernetes API server test double, for ConfigMaps only.

hotcfgd reads ConfigMaps straight from the API server, and its tests need a
server that behaves like the real one in the ways a client can observe:
discovery, the ConfigMap REST verbs, resourceVersion bookkeeping, watch
streams (synthetic ADDED events, bookmarks, 410 Expired, timeouts), Status
objects for every failure, bearer tokens that can be rotated, RBAC-style
resourceNames denial, and request-level failure injection.  Everything is
Python standard library; nothing leaves the loopback interface.

Run it with --dir DIR: it creates a CA, a server certificate for 127.0.0.1,
::1 and localhost, a client certificate, a token, kubeconfig files, and
writes DIR/port once it accepts connections.  `--help` lists the options;
README.md next to this file documents the control API under /_test/.

The store is one lock and one condition variable.  Every change takes the
next value of a global resourceVersion counter (like an etcd revision) and
appends an event to a bounded history; the history's floor is the oldest
resourceVersion a watch or an exact list may still start from.  Watch
threads sleep on the condition variable and wake for new events, bookmarks,
deadlines, cuts and shutdown, so each loop is bounded by its timeout.
"""

import argparse
import base64
import bisect
import copy
import datetime
import json
import os
import random
import re
import signal
import socket
import ssl
import string
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    import yaml  # python3-yaml: optional, for application/yaml bodies
except ImportError:  # pragma: no cover - the server works without it
    yaml = None

MAX_CONFIGMAP_DATA = 1048576          # corev1.MaxSecretSize
MAX_ANNOTATIONS = 262144              # total bytes of annotation keys+values
DEFAULT_MAX_BODY = 3 * 1024 * 1024    # the apiserver's JSON request limit
SERVER_VERSION = {"major": "1", "minor": "27", "gitVersion": "v1.27.0-hotcfg",
                  "gitCommit": "0000000000000000000000000000000000000000",
                  "gitTreeState": "clean", "buildDate": "2024-01-01T00:00:00Z",
                  "goVersion": "go1.20", "compiler": "gc",
                  "platform": "linux/amd64"}
DEFAULT_USER = "system:serviceaccount:default:hotcfg"
LOOPBACK = ("127.0.0.1", "::1", "localhost")

NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
KEY_RE = re.compile(r"[-._a-zA-Z0-9]+")
LABEL_VALUE_RE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
LABEL_NAME_RE = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_bool(s):
    """strconv.ParseBool, which is what the apiserver uses for query flags."""
    if s in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if s in ("0", "f", "F", "false", "FALSE", "False", ""):
        return False
    raise ApiError.bad_request("invalid boolean value %r" % s)


def human_duration(seconds):
    """The short age format kubectl shows in its AGE column."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return "%ds" % s
    m = s // 60
    if m < 10:
        return "%dm%ds" % (m, s % 60) if s % 60 else "%dm" % m
    if m < 180:
        return "%dm" % m
    h = m // 60
    if h < 8:
        return "%dh%dm" % (h, m % 60) if m % 60 else "%dh" % h
    if h < 48:
        return "%dh" % h
    if h < 24 * 8:
        return "%dd%dh" % (h // 24, h % 24) if h % 24 else "%dd" % (h // 24)
    if h < 24 * 365 * 2:
        return "%dd" % (h // 24)
    if h < 24 * 365 * 8:
        return "%dy%dd" % (h // (24 * 365), (h // 24) % 365)
    return "%dy" % (h // (24 * 365))


# ---------------------------------------------------------------- errors

class ApiError(Exception):
    """A failure that becomes a v1 Status object on the wire."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details, self.headers = details, headers or {}

    def status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {},
              "status": "Failure", "message": self.message,
              "reason": self.reason}
        if self.details is not None:
            st["details"] = self.details
        st["code"] = self.code
        return st

    @classmethod
    def bad_request(cls, msg):
        return cls(400, "BadRequest", msg)

    @classmethod
    def not_found(cls, name, resource="configmaps"):
        return cls(404, "NotFound", '%s "%s" not found' % (resource, name),
                   {"name": name, "kind": resource})

    @classmethod
    def already_exists(cls, name):
        return cls(409, "AlreadyExists", 'configmaps "%s" already exists' % name,
                   {"name": name, "kind": "configmaps"})

    @classmethod
    def conflict(cls, name, why):
        return cls(409, "Conflict",
                   'Operation cannot be fulfilled on configmaps "%s": %s' % (name, why),
                   {"name": name, "kind": "configmaps"})

    @classmethod
    def invalid(cls, name, causes):
        """causes: (reason, field, message) as field.Error would render."""
        errs = ["%s: %s" % (f, m) for (_, f, m) in causes]
        text = errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"
        return cls(422, "Invalid", 'ConfigMap "%s" is invalid: %s' % (name, text),
                   {"name": name, "kind": "ConfigMap",
                    "causes": [{"reason": r, "message": m, "field": f}
                               for (r, f, m) in causes]})

    @classmethod
    def expired(cls, msg):
        return cls(410, "Expired", msg)

    @classmethod
    def unauthorized(cls):
        return cls(401, "Unauthorized", "Unauthorized")

    @classmethod
    def internal(cls, msg):
        return cls(500, "InternalError", "Internal error occurred: %s" % msg,
                   {"causes": [{"message": msg}]})


CONFLICT_MODIFIED = ("the object has been modified; please apply your changes "
                     "to the latest version and try again")


# ---------------------------------------------------------------- selectors

def split_top(s):
    """Split on commas that are not inside parentheses."""
    out, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [p.strip() for p in out if p.strip()]


class LabelSelector:
    """Equality- and set-based label selectors, as kubectl -l writes them."""

    def __init__(self, text):
        self.reqs = []
        for part in split_top(text or ""):
            m = re.fullmatch(r"([^\s!=(),]+)\s+(in|notin)\s*\(([^()]*)\)", part)
            if m:
                vals = {v.strip() for v in m.group(3).split(",") if v.strip()}
                self.reqs.append((m.group(1), m.group(2), vals))
                continue
            m = re.fullmatch(r"([^\s!=(),]+)\s*(!=|==|=)\s*([^\s!=(),]*)", part)
            if m:
                op = "!=" if m.group(2) == "!=" else "="
                self.reqs.append((m.group(1), op, m.group(3)))
                continue
            m = re.fullmatch(r"(!?)\s*([^\s!=(),]+)", part)
            if m:
                self.reqs.append((m.group(2), "!" if m.group(1) else "exists", None))
                continue
            raise ApiError.bad_request("unable to parse requirement: %r" % part)

    def matches(self, labels):
        labels = labels or {}
        for key, op, val in self.reqs:
            have = key in labels
            v = labels.get(key)
            if op == "=" and v != val:
                return False
            if op == "!=" and v == val:
                return False
            if op == "in" and (not have or v not in val):
                return False
            if op == "notin" and have and v in val:
                return False
            if op == "exists" and not have:
                return False
            if op == "!" and have:
                return False
        return True


class FieldSelector:
    """The fields the apiserver indexes for ConfigMaps: name and namespace."""

    FIELDS = ("metadata.name", "metadata.namespace")

    def __init__(self, text):
        self.terms = []
        for part in split_top(text or ""):
            m = re.fullmatch(r"([^!=]+?)\s*(!=|==|=)\s*(.*)", part)
            if not m:
                raise ApiError.bad_request("invalid selector: '%s'; can't understand '%s'"
                                           % (text, part))
            field, op, val = m.group(1).strip(), m.group(2), m.group(3).strip()
            if field not in self.FIELDS:
                raise ApiError.bad_request('field label not supported: %s' % field)
            self.terms.append((field, "!=" if op == "!=" else "=", val))

    def name(self):
        """The single name this selector pins, which RBAC treats as the
        request's resource name (resourceNames rules apply to it)."""
        for field, op, val in self.terms:
            if field == "metadata.name" and op == "=":
                return val
        return None

    def matches(self, obj):
        md = obj["metadata"]
        for field, op, val in self.terms:
            have = md["name"] if field == "metadata.name" else md["namespace"]
            if (have == val) != (op == "="):
                return False
        return True


# ---------------------------------------------------------------- patches

def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


# Lists inside a ConfigMap that strategic merge patch merges instead of
# replacing: finalizers merge as a set, ownerReferences by their uid.
SMP_MERGE_LISTS = {("metadata", "finalizers"): None,
                   ("metadata", "ownerReferences"): "uid"}


def strategic_merge(target, patch, path=()):
    """Strategic merge patch, enough for ConfigMaps: maps merge, null
    deletes, the $patch / $retainKeys / $setElementOrder /
    $deleteFromPrimitiveList directives are honoured, and the two merging
    lists of ObjectMeta merge.  Returns None for a $patch: delete."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
    if directive is not None:
        raise ApiError(422, "Invalid", "unknown patch type: %r" % directive)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys") or k.startswith("$setElementOrder/"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            cur = result.get(field)
            if isinstance(cur, list) and isinstance(v, list):
                result[field] = [x for x in cur if x not in v]
            continue
        sub = path + (k,)
        if v is None:
            result.pop(k, None)
        elif isinstance(v, dict):
            merged = strategic_merge(result.get(k), v, sub)
            if merged is None:
                result.pop(k, None)
            else:
                result[k] = merged
        elif isinstance(v, list) and sub in SMP_MERGE_LISTS:
            result[k] = merge_list(result.get(k) or [], v, SMP_MERGE_LISTS[sub])
        else:
            result[k] = copy.deepcopy(v)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def merge_list(cur, patch, key):
    out = list(cur)
    for item in patch:
        if key is None:
            if item not in out:
                out.append(item)
            continue
        if not isinstance(item, dict):
            continue
        idx = next((i for i, x in enumerate(out)
                    if isinstance(x, dict) and x.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                del out[idx]
        elif idx is None:
            out.append({k: v for k, v in item.items() if not k.startswith("$")})
        else:
            out[idx] = strategic_merge(out[idx], item)
    return out


def json_pointer(doc, ptr):
    """Resolve an RFC 6901 pointer to (parent container, last token)."""
    if ptr == "":
        return None, None
    if not ptr.startswith("/"):
        raise ValueError("invalid JSON pointer %r" % ptr)
    toks = [t.replace("~1", "/").replace("~0", "~") for t in ptr[1:].split("/")]
    cur = doc
    for t in toks[:-1]:
        if isinstance(cur, dict):
            if t not in cur:
                raise ValueError("path %s does not exist" % ptr)
            cur = cur[t]
        elif isinstance(cur, list):
            cur = cur[list_index(cur, t, False)]
        else:
            raise ValueError("path %s does not exist" % ptr)
    return cur, toks[-1]


def list_index(lst, tok, adding):
    if tok == "-" and adding:
        return len(lst)
    if not tok.isdigit():
        raise ValueError("invalid array index %r" % tok)
    i = int(tok)
    if i > len(lst) or (i == len(lst) and not adding):
        raise ValueError("array index %d out of bounds" % i)
    return i


def json_patch(doc, ops):
    """RFC 6902 JSON patch: add, remove, replace, move, copy, test."""
    if not isinstance(ops, list):
        raise ValueError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(doc)

    def get(ptr):
        parent, tok = json_pointer(doc, ptr)
        if parent is None:
            return doc
        if isinstance(parent, dict):
            if tok not in parent:
                raise ValueError("path %s does not exist" % ptr)
            return parent[tok]
        return parent[list_index(parent, tok, False)]

    def remove(ptr):
        parent, tok = json_pointer(doc, ptr)
        if isinstance(parent, dict):
            if tok not in parent:
                raise ValueError("unable to remove nonexistent key %s" % ptr)
            return parent.pop(tok)
        if isinstance(parent, list):
            return parent.pop(list_index(parent, tok, False))
        raise ValueError("cannot remove %s" % ptr)

    def add(ptr, value):
        nonlocal doc
        parent, tok = json_pointer(doc, ptr)
        if parent is None:
            doc = value
        elif isinstance(parent, dict):
            parent[tok] = value
        elif isinstance(parent, list):
            parent.insert(list_index(parent, tok, True), value)
        else:
            raise ValueError("cannot add at %s" % ptr)

    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ValueError("malformed JSON patch operation %r" % (op,))
        kind, path = op["op"], op["path"]
        if kind == "add":
            add(path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            remove(path)
        elif kind == "replace":
            remove(path)
            add(path, copy.deepcopy(op.get("value")))
        elif kind == "move":
            add(path, remove(op["from"]))
        elif kind == "copy":
            add(path, copy.deepcopy(get(op["from"])))
        elif kind == "test":
            if get(path) != op.get("value"):
                raise ValueError("testing value %s failed" % path)
        else:
            raise ValueError("unexpected kind of operation %r" % kind)
    return doc


# ---------------------------------------------------------------- objects

META_ORDER = ("name", "generateName", "namespace", "uid", "resourceVersion",
              "generation", "creationTimestamp", "deletionTimestamp",
              "deletionGracePeriodSeconds", "labels", "annotations",
              "ownerReferences", "finalizers", "managedFields")
USER_META = ("labels", "annotations", "ownerReferences", "finalizers")


def canonical(obj):
    """Lay a ConfigMap out in the field order the real server writes."""
    md = obj.get("metadata") or {}
    meta = {k: md[k] for k in META_ORDER if k in md and md[k] not in (None, {}, [])}
    out = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": meta}
    if obj.get("immutable") is not None:
        out["immutable"] = obj["immutable"]
    for k in ("data", "binaryData"):
        if obj.get(k):
            out[k] = obj[k]
    return out


def decode_configmap(body, ns):
    """Type-check a decoded request body the way the JSON decoder would."""
    if not isinstance(body, dict):
        raise ApiError.bad_request("the body of the request was not a JSON object")
    kind, ver = body.get("kind"), body.get("apiVersion")
    if kind not in (None, "", "ConfigMap"):
        raise ApiError.bad_request("the kind in the data (%s) does not match the expected kind (ConfigMap)" % kind)
    if ver not in (None, "", "v1"):
        raise ApiError.bad_request("the API version in the data (%s) does not match the expected API version (v1)" % ver)
    md = body.get("metadata") or {}
    if not isinstance(md, dict):
        raise ApiError.bad_request("metadata must be an object")
    for k in ("data", "binaryData"):
        v = body.get(k)
        if v is None:
            continue
        if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
            raise ApiError.bad_request("ConfigMap.%s: values must be strings" % k)
    for k, v in (body.get("binaryData") or {}).items():
        try:
            base64.b64decode(v, validate=True)
        except ValueError:
            raise ApiError.bad_request("ConfigMap.binaryData[%s]: illegal base64 data" % k)
    for k in ("labels", "annotations"):
        v = md.get(k)
        if v is not None and (not isinstance(v, dict)
                              or not all(isinstance(x, str) for x in v.values())):
            raise ApiError.bad_request("ObjectMeta.%s: values must be strings" % k)
    if md.get("namespace") not in (None, "", ns):
        raise ApiError.bad_request("the namespace of the provided object does not match the namespace sent on the request")
    if body.get("immutable") is not None and not isinstance(body["immutable"], bool):
        raise ApiError.bad_request("ConfigMap.immutable must be a boolean")
    return body


def data_size(obj):
    total = sum(len(v.encode()) for v in (obj.get("data") or {}).values())
    total += sum(len(base64.b64decode(v)) for v in (obj.get("binaryData") or {}).values())
    return total


def validate_configmap(obj, old, max_data):
    """The checks ValidateConfigMap and ValidateObjectMeta make, returning
    (reason, field, message) causes."""
    causes = []
    md = obj["metadata"]
    name = md.get("name", "")
    if not name:
        causes.append(("FieldValueRequired", "metadata.name",
                       "Required value: name or generateName is required"))
    elif len(name) > 253 or not NAME_RE.fullmatch(name):
        causes.append(("FieldValueInvalid", "metadata.name",
                       'Invalid value: "%s": a lowercase RFC 1123 subdomain must consist of '
                       "lower case alphanumeric characters, '-' or '.', and must start and end "
                       "with an alphanumeric character" % name))
    for k, v in (md.get("labels") or {}).items():
        kname = k.rsplit("/", 1)[-1]
        if len(kname) > 63 or not LABEL_NAME_RE.fullmatch(kname):
            causes.append(("FieldValueInvalid", "metadata.labels",
                           'Invalid value: "%s": name part must consist of alphanumeric '
                           "characters, '-', '_' or '.'" % k))
        if len(v) > 63 or not LABEL_VALUE_RE.fullmatch(v):
            causes.append(("FieldValueInvalid", "metadata.labels",
                           'Invalid value: "%s": a valid label must be an empty string or '
                           "consist of alphanumeric characters, '-', '_' or '.'" % v))
    ann = md.get("annotations") or {}
    if sum(len(k) + len(v) for k, v in ann.items()) > MAX_ANNOTATIONS:
        causes.append(("FieldValueTooLong", "metadata.annotations",
                       "Too long: must have at most %d bytes" % MAX_ANNOTATIONS))
    data, binary = obj.get("data") or {}, obj.get("binaryData") or {}
    for bag, other, label in ((data, binary, "binaryData"), (binary, data, "data")):
        field = "data" if bag is data else "binaryData"
        for k in bag:
            if len(k) > 253 or not KEY_RE.fullmatch(k) or k in (".", ".."):
                causes.append(("FieldValueInvalid", "%s[%s]" % (field, k),
                               'Invalid value: "%s": a valid config key must consist of '
                               "alphanumeric characters, '-', '_' or '.'" % k))
            if k in other:
                causes.append(("FieldValueInvalid", "%s[%s]" % (field, k),
                               'Invalid value: "%s": duplicate of key present in %s' % (k, label)))
    if data_size(obj) > max_data:
        causes.append(("FieldValueTooLong", "[]",
                       "Too long: must have at most %d bytes" % max_data))
    if old is not None and old.get("immutable"):
        if obj.get("immutable") is not True:
            causes.append(("FieldValueForbidden", "immutable",
                           "Forbidden: field is immutable when `immutable` is set"))
        if (obj.get("data") or {}) != (old.get("data") or {}):
            causes.append(("FieldValueForbidden", "data",
                           "Forbidden: field is immutable when `immutable` is set"))
        if (obj.get("binaryData") or {}) != (old.get("binaryData") or {}):
            causes.append(("FieldValueForbidden", "binaryData",
                           "Forbidden: field is immutable when `immutable` is set"))
    return causes


# ---------------------------------------------------------------- the store

class Event:
    __slots__ = ("rv", "type", "obj", "old")

    def __init__(self, rv, type_, obj, old):
        self.rv, self.type, self.obj, self.old = rv, type_, obj, old


class Store:
    """ConfigMaps keyed by (namespace, name), a global resourceVersion
    counter and a bounded event history.  Every method takes self.cond."""

    def __init__(self, initial_rv=1000, history=1000, max_data=MAX_CONFIGMAP_DATA):
        self.cond = threading.Condition()
        self.objects = {}
        self.rv = initial_rv
        self.floor = initial_rv      # oldest RV still servable
        self.events = []             # Event, ascending rv
        self.event_rvs = []
        self.max_history = history
        self.max_data = max_data
        self.closing = False

    # -- history

    def _emit(self, type_, obj, old):
        self.events.append(Event(self.rv, type_, obj, old))
        self.event_rvs.append(self.rv)
        if len(self.events) > self.max_history:
            drop = len(self.events) - self.max_history
            self.floor = self.events[drop - 1].rv
            del self.events[:drop]
            del self.event_rvs[:drop]
        self.cond.notify_all()

    def compact(self, rv=None):
        with self.cond:
            rv = self.rv if rv is None else min(int(rv), self.rv)
            if rv > self.floor:
                self.floor = rv
                i = bisect.bisect_right(self.event_rvs, rv)
                del self.events[:i]
                del self.event_rvs[:i]
            self.cond.notify_all()
            return self.floor

    def events_after(self, rv):
        """Events newer than rv (caller holds the lock and checked the floor)."""
        return self.events[bisect.bisect_right(self.event_rvs, rv):]

    def snapshot_at(self, rv):
        """The objects as they were at rv, undoing newer events."""
        if rv < self.floor:
            raise ApiError.expired("too old resource version: %d (%d)" % (rv, self.floor))
        objs = dict(self.objects)
        for ev in reversed(self.events_after(rv)):
            key = (ev.obj["metadata"]["namespace"], ev.obj["metadata"]["name"])
            if ev.old is None:
                objs.pop(key, None)
            else:
                objs[key] = ev.old
        return objs

    # -- writes

    def _next_rv(self):
        self.rv += 1
        return self.rv

    def create(self, ns, body, dry_run=False, check=True):
        obj = canonical(body)
        md = obj["metadata"]
        md["namespace"] = ns
        if md.get("resourceVersion"):
            raise ApiError.internal("resourceVersion should not be set on objects to be created")
        with self.cond:
            if not md.get("name") and md.get("generateName"):
                alphabet = "bcdfghjklmnpqrstvwxz2456789"
                md["name"] = md["generateName"] + "".join(random.choice(alphabet) for _ in range(5))
            causes = validate_configmap(obj, None, self.max_data) if check else []
            if causes:
                raise ApiError.invalid(md.get("name", ""), causes)
            key = (ns, md["name"])
            if key in self.objects:
                raise ApiError.already_exists(md["name"])
            md["uid"] = str(uuid.uuid4())
            md["creationTimestamp"] = now_rfc3339()
            md.pop("deletionTimestamp", None)
            md.pop("deletionGracePeriodSeconds", None)
            if dry_run:
                return canonical(obj)
            md["resourceVersion"] = str(self._next_rv())
            obj = canonical(obj)
            self.objects[key] = obj
            self._emit("ADDED", obj, None)
            return copy.deepcopy(obj)

    def update(self, ns, name, mutate, dry_run=False, precondition_rv=True, check=True):
        """Apply mutate(current copy) -> new object under the lock.  A new
        object equal to the old one is a no-op, as on the real server."""
        with self.cond:
            cur = self.objects.get((ns, name))
            if cur is None:
                raise ApiError.not_found(name)
            new = mutate(copy.deepcopy(cur))
            new = canonical(new)
            nmd, cmd = new["metadata"], cur["metadata"]
            if nmd.get("name", name) != name:
                raise ApiError.bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                                           % (nmd.get("name"), name))
            nmd["name"], nmd["namespace"] = name, ns
            rv = nmd.get("resourceVersion")
            if precondition_rv and rv and rv != cmd["resourceVersion"]:
                raise ApiError.conflict(name, CONFLICT_MODIFIED)
            uid = nmd.get("uid")
            if uid and uid != cmd["uid"]:
                raise ApiError.conflict(name, "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                                        % (uid, cmd["uid"]))
            for k in ("uid", "creationTimestamp", "generateName",
                      "deletionTimestamp", "deletionGracePeriodSeconds"):
                if k in cmd:
                    nmd[k] = cmd[k]
                else:
                    nmd.pop(k, None)
            nmd["resourceVersion"] = cmd["resourceVersion"]
            new = canonical(new)
            causes = validate_configmap(new, cur, self.max_data) if check else []
            if causes:
                raise ApiError.invalid(name, causes)
            if new == cur or dry_run:
                return copy.deepcopy(new)
            if cmd.get("deletionTimestamp") and not new["metadata"].get("finalizers"):
                # The last finalizer went away: the pending delete completes.
                return self._remove(ns, name)
            new["metadata"]["resourceVersion"] = str(self._next_rv())
            self.objects[(ns, name)] = new
            self._emit("MODIFIED", new, cur)
            return copy.deepcopy(new)

    def _remove(self, ns, name):
        cur = self.objects.pop((ns, name))
        gone = copy.deepcopy(cur)
        gone["metadata"]["resourceVersion"] = str(self._next_rv())
        self._emit("DELETED", gone, cur)
        return gone

    def delete(self, ns, name, pre_uid=None, pre_rv=None, dry_run=False):
        """Returns (object, finished).  An object with finalizers only gets
        its deletionTimestamp set, as the real server does."""
        with self.cond:
            cur = self.objects.get((ns, name))
            if cur is None:
                raise ApiError.not_found(name)
            md = cur["metadata"]
            if pre_uid and pre_uid != md["uid"]:
                raise ApiError.conflict(name, "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                                        % (pre_uid, md["uid"]))
            if pre_rv and pre_rv != md["resourceVersion"]:
                raise ApiError.conflict(name, "Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s"
                                        % (pre_rv, md["resourceVersion"]))
            if dry_run:
                return copy.deepcopy(cur), True
            if md.get("finalizers"):
                if md.get("deletionTimestamp"):
                    return copy.deepcopy(cur), False
                new = copy.deepcopy(cur)
                new["metadata"]["deletionTimestamp"] = now_rfc3339()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                new = canonical(new)
                new["metadata"]["resourceVersion"] = str(self._next_rv())
                self.objects[(ns, name)] = new
                self._emit("MODIFIED", new, cur)
                return copy.deepcopy(new), False
            return self._remove(ns, name), True

    def get(self, ns, name):
        with self.cond:
            cur = self.objects.get((ns, name))
            if cur is None:
                raise ApiError.not_found(name)
            return copy.deepcopy(cur)

    def close(self):
        with self.cond:
            self.closing = True
            self.cond.notify_all()


# ---------------------------------------------------------------- auth

class Authn:
    """Bearer tokens from a file re-read on every request (so a test can
    rotate it), plus client certificates signed by the test CA.  Lines are
    `TOKEN` or `TOKEN,USER`; blank lines and # comments are ignored."""

    def __init__(self, token_file):
        self.token_file = token_file

    def tokens(self):
        out = {}
        try:
            with open(self.token_file, encoding="utf-8") as f:
                for line in f:
                    line = line.strip()
                    if not line or line.startswith("#"):
                        continue
                    tok, _, user = line.partition(",")
                    out[tok.strip()] = user.strip() or DEFAULT_USER
        except OSError:
            pass
        return out

    def authenticate(self, headers, peercert):
        if peercert:
            for rdn in peercert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        return v
        if self.token_file is None:
            return "system:anonymous"
        auth = headers.get("Authorization", "")
        if auth[:7].lower() == "bearer ":
            user = self.tokens().get(auth[7:].strip())
            if user:
                return user
        return None


class Forbid:
    """A resourceNames-style RBAC rule: when enabled, only the listed
    ConfigMaps may be touched, and only with the listed verbs.  An entry is
    NAME (any namespace) or NAMESPACE/NAME.  Lists and watches are allowed
    when a metadata.name field selector names an allowed ConfigMap."""

    def __init__(self):
        self.names = None           # None: mode off
        self.verbs = ("get", "list", "watch")

    def check(self, user, verb, ns, name):
        if self.names is None:
            return
        if verb == "create":
            # resourceNames cannot authorize a create; only a plain rule can.
            ok = "create" in self.verbs
        else:
            ok = verb in self.verbs and name is not None and (
                name in self.names or ("%s/%s" % (ns, name)) in self.names)
        if ok:
            return
        what = 'configmaps "%s"' % name if name else "configmaps"
        where = 'in the namespace "%s"' % ns if ns else "at the cluster scope"
        details = {"kind": "configmaps"}
        if name:
            details = {"name": name, "kind": "configmaps"}
        raise ApiError(403, "Forbidden",
                       '%s is forbidden: User "%s" cannot %s resource "configmaps" '
                       'in API group "" %s' % (what, user, verb, where), details)


class Faults:
    """Injected failures, consumed in order by matching API requests.
    A rule: count, then code (429 with retry_after, or 5xx), or action
    "reset" (close the connection without answering) or "delay" (sleep
    `seconds`, then serve normally); optional filters path (substring of
    the request path) and verb."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []

    def add(self, rule):
        rule = dict(rule)
        rule.setdefault("count", 1)
        if "code" not in rule and "action" not in rule:
            raise ValueError("a fault needs a code or an action")
        with self.lock:
            self.rules.append(rule)

    def clear(self):
        with self.lock:
            self.rules = []

    def take(self, path, verb):
        with self.lock:
            for rule in self.rules:
                if rule.get("path") and rule["path"] not in path:
                    continue
                if rule.get("verb") and rule["verb"] != verb:
                    continue
                rule["count"] -= 1
                if rule["count"] <= 0:
                    self.rules.remove(rule)
                return dict(rule)
        return None

    def snapshot(self):
        with self.lock:
            return [dict(r) for r in self.rules]


# ---------------------------------------------------------------- the server

CM_RESOURCE = {"name": "configmaps", "singularName": "", "namespaced": True,
               "kind": "ConfigMap",
               "verbs": ["create", "delete", "deletecollection", "get", "list",
                         "patch", "update", "watch"],
               "shortNames": ["cm"], "storageVersionHash": "qFsyl6wFWjQ="}
NS_RESOURCE = {"name": "namespaces", "singularName": "", "namespaced": False,
               "kind": "Namespace", "verbs": ["get", "list"],
               "shortNames": ["ns"]}

TABLE_COLUMNS = [
    {"name": "Name", "type": "string", "format": "name", "priority": 0,
     "description": "Name of the object, unique within its namespace."},
    {"name": "Data", "type": "integer", "format": "", "priority": 0,
     "description": "Number of keys in data and binaryData."},
    {"name": "Age", "type": "string", "format": "", "priority": 0,
     "description": "Time since the object was created."},
]


class Watch:
    """One open watch stream, as seen by the control API."""

    def __init__(self, wid, handler, path, query, user):
        self.id, self.handler = wid, handler
        self.path, self.query, self.user = path, query, user
        self.pos = 0
        self.cut = None             # dict of cut options once requested
        self.done = threading.Event()
        self.started = time.time()

    def info(self):
        return {"id": self.id, "path": self.path, "query": self.query,
                "user": self.user, "resourceVersion": str(self.pos),
                "age": round(time.time() - self.started, 3)}


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 64

    def __init__(self, addr, ctx, opts):
        family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.address_family = family
        super().__init__(addr, Handler)
        self.ctx = ctx
        self.opts = opts
        self.store = Store(opts.initial_rv, opts.history, opts.max_data)
        self.authn = Authn(opts.token_file)
        self.forbid = Forbid()
        self.faults = Faults()
        self.cfg = {"bookmark_interval": opts.bookmark_interval,
                    "watch_timeout": opts.watch_timeout,
                    "max_body": opts.max_body,
                    "chunk_mode": "event", "chunk_size": 7,
                    "stall": False}
        self.lock = threading.Lock()
        self.log = []
        self.log_seq = 0
        self.log_file = open(opts.request_log, "a", buffering=1) if opts.request_log else None
        self.watches = {}
        self.watch_seq = 0
        self.conns = set()
        self.conn_count = 0

    def server_bind(self):
        # HTTPServer.server_bind does a reverse DNS lookup; skip it.
        import socketserver
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    # Each connection gets its TLS handshake in its own thread, so a client
    # that connects and says nothing cannot stall the accept loop.
    def finish_request(self, request, client_address):
        request.settimeout(self.opts.idle_timeout)
        try:
            conn = self.ctx.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        with self.lock:
            self.conns.add(conn)
            self.conn_count += 1
        try:
            Handler(conn, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with self.lock:
                self.conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        if not self.opts.quiet:
            super().handle_error(request, client_address)

    def record(self, entry):
        with self.lock:
            self.log_seq += 1
            entry["seq"] = self.log_seq
            self.log.append(entry)
            if len(self.log) > 20000:
                del self.log[:1000]
            if self.log_file:
                self.log_file.write(json.dumps(entry) + "\n")

    def cut_connections(self, opts, caller=None):
        """Abort open watches (and, with all=true, idle connections too,
        except the caller's own).  Each watch thread performs its own abort
        so no two threads write one TLS stream; one that is blocked in a
        write is shut down from here after a grace period."""
        with self.lock:
            targets = list(self.watches.values())
            idle = [c for c in self.conns if c is not caller] if opts.get("all") else []
        for w in targets:
            w.cut = dict(opts, requested=True)  # never an empty, falsy dict
        with self.store.cond:
            self.store.cond.notify_all()
        deadline = time.time() + 2
        for w in targets:
            if not w.done.wait(max(0.0, deadline - time.time())):
                hard_shutdown(w.handler.connection)
        busy = {w.handler.connection for w in targets}
        n = 0
        for conn in idle:
            if conn not in busy:
                hard_shutdown(conn)
                n += 1
        return {"watches": len(targets), "idle": n}


def hard_shutdown(conn):
    """Shut a TLS connection's TCP stream down from any thread, without a
    close_notify: the peer sees the stream end mid-response."""
    try:
        fd = os.dup(conn.fileno())
    except (OSError, ValueError):
        return
    s = socket.socket(fileno=fd)
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        s.close()


CM_PATH = re.compile(r"^/api/v1(?:/watch)?(?:/namespaces/([^/]+))?/configmaps(?:/([^/]+))?/?$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hotcfg-test-apiserver"

    # -- plumbing

    def log_message(self, fmt, *args):
        if not self.server.opts.quiet:
            sys.stderr.write("apiserver: %s %s\n" % (self.address_string(), fmt % args))

    def send_response(self, code, message=None):
        # The real apiserver sends no Server header; keep Date.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())
        self._status = code

    def handle_expect_100(self):
        n = self._content_length()
        if n is not None and n > self.server.cfg["max_body"]:
            self._parse_target()
            self._entry = self._new_entry()
            self.send_error_status(self._too_large())
            self.server.record(self._entry)
            self.close_connection = True
            return False
        return super().handle_expect_100()

    def _content_length(self):
        try:
            return int(self.headers.get("Content-Length", ""))
        except ValueError:
            return None

    def _too_large(self):
        return ApiError(413, "RequestEntityTooLarge",
                        "Request entity too large: limit is %d" % self.server.cfg["max_body"])

    def _parse_target(self):
        u = urllib.parse.urlsplit(self.path)
        self.upath = urllib.parse.unquote(u.path)
        self.rawquery = u.query
        self.q = {}
        for k, v in urllib.parse.parse_qsl(u.query, keep_blank_values=True):
            self.q.setdefault(k, v)

    def _new_entry(self):
        return {"t": round(time.time(), 3), "method": self.command,
                "path": self.upath, "query": self.rawquery, "params": dict(self.q),
                "watch": False, "status": None, "user": None,
                "ua": self.headers.get("User-Agent", ""),
                "accept": self.headers.get("Accept", ""),
                "content_type": self.headers.get("Content-Type", "")}

    def drain_body(self):
        """Consume a body the handler did not read (say, after a 401) so it
        is not parsed as the next request; close the connection when that
        would mean reading too much."""
        if self._body_read:
            return
        self._body_read = True
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            return
        n = self._content_length() or 0
        if n > self.server.cfg["max_body"]:
            self.close_connection = True
            return
        while n > 0:
            chunk = self.rfile.read(min(n, 65536))
            if not chunk:
                break
            n -= len(chunk)

    def read_body(self):
        self._body_read = True
        maxb = self.server.cfg["max_body"]
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            buf = bytearray()
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                if len(buf) + size > maxb:
                    self.close_connection = True
                    raise self._too_large()
                buf += self.rfile.read(size)
                self.rfile.readline(8)
            return bytes(buf)
        n = self._content_length() or 0
        if n > maxb:
            # Drain what a well-behaved client still sends, then refuse.
            left = n if n <= 4 * maxb else 0
            while left > 0:
                chunk = self.rfile.read(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
            if n > 4 * maxb:
                self.close_connection = True
            raise self._too_large()
        return self.rfile.read(n) if n else b""

    def decode_body(self, raw, ctype):
        ctype = ctype.split(";")[0].strip().lower()
        try:
            if ctype in ("application/yaml",) and yaml is not None:
                return yaml.safe_load(raw.decode("utf-8"))
            if ctype in ("", "application/json", "*/*") or ctype.endswith("+json"):
                return json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise ApiError.bad_request("error decoding request body: %s" % e)
        except Exception as e:  # yaml errors
            raise ApiError.bad_request("error decoding YAML request body: %s" % e)
        raise ApiError(415, "UnsupportedMediaType",
                       "the body of the request was in an unknown format - accepted "
                       "media types include: application/json, application/yaml")

    def wants_table(self):
        """(True, version) when the Accept header asks for meta.k8s.io Tables,
        as kubectl get does; raises 406 for media types we cannot write."""
        accept = self.headers.get("Accept", "") or "application/json"
        plain = False
        for rng in accept.split(","):
            parts = [p.strip() for p in rng.split(";")]
            mt, params = parts[0].lower(), dict(
                p.split("=", 1) for p in parts[1:] if "=" in p)
            if mt in ("application/json", "*/*", "application/*"):
                if params.get("as") == "Table":
                    if params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
                        return True, params["v"]
                    continue
                if "as" in params:
                    continue
                plain = True
            elif mt == "application/yaml" and yaml is not None:
                plain = True
        if not plain:
            raise ApiError(406, "NotAcceptable",
                           "only the following media types are accepted: application/json, application/yaml")
        return False, None

    def send_json(self, code, obj, headers=None):
        if self.q.get("pretty") in ("1", "true", "True"):
            body = json.dumps(obj, indent=2)
        else:
            body = json.dumps(obj, separators=(",", ":"))
        data = (body + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("X-Kubernetes-Pf-Flowschema-Uid", "f0c0f0c0-0000-4000-8000-000000000001")
        self.send_header("X-Kubernetes-Pf-Prioritylevel-Uid", "f0c0f0c0-0000-4000-8000-000000000002")
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_error_status(self, err):
        if getattr(self, "_entry", None) is not None:
            self._entry["status"] = err.code
            self._entry["reason"] = err.reason
        self.send_json(err.code, err.status(), err.headers)

    # -- dispatch

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def dispatch(self):
        self._parse_target()
        self._entry = None
        self._recorded = False
        self._body_read = False
        self._status = None
        try:
            if self.upath.startswith("/_test/"):
                try:
                    return self.control()
                except ApiError as e:
                    return self.send_error_status(e)
            self._entry = self._new_entry()
            try:
                self.api()
                if not self._entry.get("watch"):
                    self.drain_body()
            except ApiError as e:
                try:
                    self.drain_body()
                except OSError:
                    self.close_connection = True
                self.send_error_status(e)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            self.close_connection = True
        finally:
            # Recorded once the answer is out, so the log shows its status
            # (a watch records itself when its stream starts).
            if self._entry is not None and not self._recorded:
                if self._entry["status"] is None:
                    self._entry["status"] = self._status
                self.server.record(self._entry)

    def api(self):
        e, s = self._entry, self.server
        public = self.upath in ("/version", "/healthz", "/livez", "/readyz")
        m = CM_PATH.match(self.upath)
        verb = self.verb_of(m)
        e["verb"] = verb
        if not public:
            peer = self.connection.getpeercert() if hasattr(self.connection, "getpeercert") else None
            user = s.authn.authenticate(self.headers, peer)
            e["user"] = user
            if user is None:
                raise ApiError.unauthorized()
        fault = None if self.upath in ("/healthz", "/livez", "/readyz") else s.faults.take(self.upath, verb)
        if fault:
            e["fault"] = fault
            self.inject(fault)
        if self.upath == "/version":
            return self.send_json(200, SERVER_VERSION)
        if self.upath in ("/healthz", "/livez", "/readyz"):
            data = b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(data)
            return
        if self.command == "GET" and self.upath in ("/api", "/api/"):
            host = "%s:%d" % (s.opts.listen if ":" not in s.opts.listen else "[%s]" % s.opts.listen,
                              s.server_address[1])
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                        "serverAddressByClientCIDRs": [
                                            {"clientCIDR": "0.0.0.0/0", "serverAddress": host}]})
        if self.command == "GET" and self.upath in ("/apis", "/apis/"):
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
        if self.command == "GET" and self.upath in ("/api/v1", "/api/v1/"):
            return self.send_json(200, {"kind": "APIResourceList", "groupVersion": "v1",
                                        "resources": [CM_RESOURCE, NS_RESOURCE]})
        if self.command == "GET" and self.upath in ("/openapi/v2", "/swagger-2.0.0.pb-v1"):
            return self.openapi()
        if m:
            return self.configmaps(m, verb)
        raise ApiError(404, "NotFound", "the server could not find the requested resource", {})

    def openapi(self):
        """An OpenAPI v2 document with no definitions.  kubectl (apply,
        create -f) insists on fetching one; finding no schema for ConfigMap,
        it skips client-side validation and uses its compiled-in patch
        metadata, as it does for custom resources without a schema."""
        title, version = "hotcfg test apiserver", SERVER_VERSION["gitVersion"]
        accept = self.headers.get("Accept", "")
        if "protobuf" in accept or self.upath.endswith(".pb-v1"):
            info = pb_string(1, title) + pb_string(2, version)
            doc = pb_string(1, "2.0") + pb_bytes(2, info)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(doc)))
            self.end_headers()
            self.wfile.write(doc)
            return
        return self.send_json(200, {"swagger": "2.0", "info": {"title": title, "version": version},
                                    "paths": {}, "definitions": {}})

    def verb_of(self, m):
        if not m:
            return self.command.lower()
        named = m.group(2) is not None
        watch = "/watch/" in self.upath or parse_bool(self.q.get("watch", ""))
        if self.command == "GET":
            if watch:
                return "watch"
            return "get" if named else "list"
        return {"POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if named else "deletecollection"}.get(self.command, "unknown")

    def inject(self, fault):
        action = fault.get("action")
        if action == "reset":
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raise ConnectionResetError("injected reset")
        if action == "delay":
            time.sleep(min(float(fault.get("seconds", 1)), 60))
            return
        code = int(fault["code"])
        msg = fault.get("message")
        if code == 429:
            ra = int(fault.get("retry_after", 1))
            raise ApiError(429, "TooManyRequests",
                           msg or "Too many requests, please try again later.",
                           {"retryAfterSeconds": ra}, {"Retry-After": ra})
        if code == 503:
            raise ApiError(503, "ServiceUnavailable",
                           msg or "The server is currently unable to handle the request", {})
        if code == 504:
            raise ApiError(504, "Timeout", msg or "The server was unable to return a response in the time allotted", {})
        if code == 410:
            raise ApiError.expired(msg or "too old resource version")
        reason = {500: "InternalError", 502: "InternalError", 401: "Unauthorized",
                  403: "Forbidden", 404: "NotFound", 409: "Conflict"}.get(code, "InternalError")
        if code == 500 or reason == "InternalError":
            err = ApiError.internal(msg or "injected fault")
            err.code = code
            raise err
        raise ApiError(code, reason, msg or reason, {})

    # -- ConfigMaps

    def configmaps(self, m, verb):
        s = self.server
        ns, name = m.group(1), m.group(2)
        if verb in ("create", "update", "patch", "delete", "deletecollection") and "/watch/" in self.upath:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})
        fsel = FieldSelector(self.q.get("fieldSelector", ""))
        lsel = LabelSelector(self.q.get("labelSelector", ""))
        rbac_name = name
        if verb in ("list", "watch") and name is None:
            rbac_name = fsel.name()
        s.forbid.check(self._entry["user"], verb, ns, rbac_name)
        if ns is None and (name is not None or verb not in ("list", "watch")):
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        dry = "All" in self.q.get("dryRun", "").split(",") if self.q.get("dryRun") else False
        if dry and self.q["dryRun"] != "All":
            raise ApiError.bad_request("Invalid dryRun value %r: only All is supported" % self.q["dryRun"])
        if verb == "watch":
            if name is not None:
                fsel.terms.append(("metadata.name", "=", name))
            self._entry["watch"] = True
            return self.watch(ns, fsel, lsel)
        if verb == "list":
            return self.list(ns, fsel, lsel)
        if verb == "get":
            table, tv = self.wants_table()
            obj = s.store.get(ns, name)
            if table:
                rv = obj["metadata"]["resourceVersion"]
                return self.send_json(200, self.table([obj], rv, tv))
            return self.send_json(200, obj)
        if verb == "create":
            body = decode_configmap(self.decode_body(self.read_body(),
                                                     self.headers.get("Content-Type", "")), ns)
            return self.send_json(201, s.store.create(ns, body, dry))
        if verb == "update":
            body = decode_configmap(self.decode_body(self.read_body(),
                                                     self.headers.get("Content-Type", "")), ns)
            md = body.get("metadata") or {}
            if md.get("name") != name:
                raise ApiError.bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                                           % (md.get("name"), name))

            def replace(cur):
                new = copy.deepcopy(body)
                new.setdefault("metadata", {})
                return new
            return self.send_json(200, s.store.update(ns, name, replace, dry))
        if verb == "patch":
            return self.patch(ns, name, dry)
        if verb == "delete":
            opts = {}
            raw = self.read_body()
            if raw.strip():
                opts = self.decode_body(raw, self.headers.get("Content-Type", "") or "application/json") or {}
            pre = opts.get("preconditions") or {}
            obj, finished = s.store.delete(ns, name, pre.get("uid"), pre.get("resourceVersion"), dry)
            if not finished:
                return self.send_json(200, obj)
            return self.send_json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                        "status": "Success",
                                        "details": {"name": name, "kind": "configmaps",
                                                    "uid": obj["metadata"]["uid"]}})
        if verb == "deletecollection":
            self.read_body()
            with s.store.cond:
                victims = [o for (ons, _), o in sorted(s.store.objects.items())
                           if ons == ns and fsel.matches(o)
                           and lsel.matches(o["metadata"].get("labels"))]
            gone = []
            for o in victims:
                try:
                    gone.append(s.store.delete(ns, o["metadata"]["name"], dry_run=dry)[0])
                except ApiError:
                    pass
            return self.send_json(200, {"kind": "ConfigMapList", "apiVersion": "v1",
                                        "metadata": {"resourceVersion": str(s.store.rv)},
                                        "items": gone})
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})

    def patch(self, ns, name, dry):
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        raw = self.read_body()
        if ctype not in ("application/json-patch+json", "application/merge-patch+json",
                         "application/strategic-merge-patch+json"):
            raise ApiError(415, "UnsupportedMediaType",
                           "the server does not support PATCH with content type %r; use "
                           "application/json-patch+json, application/merge-patch+json or "
                           "application/strategic-merge-patch+json" % ctype, {})
        try:
            p = json.loads(raw.decode("utf-8") or "null")
        except (ValueError, UnicodeDecodeError) as e:
            raise ApiError.bad_request("error decoding patch: %s" % e)
        if ctype != "application/json-patch+json" and not isinstance(p, dict):
            raise ApiError.bad_request("the patch must be a JSON object")

        def apply(cur):
            cur_rv = cur["metadata"]["resourceVersion"]
            try:
                if ctype == "application/json-patch+json":
                    new = json_patch(cur, p)
                elif ctype == "application/merge-patch+json":
                    new = merge_patch(cur, p)
                else:
                    new = strategic_merge(cur, p)
            except ValueError as e:
                raise ApiError(422, "Invalid", "the server rejected our request due to an error in our request: %s" % e, {})
            if not isinstance(new, dict):
                raise ApiError(422, "Invalid", "the patch did not produce an object", {})
            new = decode_configmap(new, ns)
            md = new.get("metadata") or {}
            if md.get("resourceVersion") and md["resourceVersion"] != cur_rv:
                raise ApiError.conflict(name, CONFLICT_MODIFIED)
            if md.get("name") != name:
                raise ApiError.invalid(name, [("FieldValueInvalid", "metadata.name",
                                               'Invalid value: "%s": field is immutable' % md.get("name"))])
            return new
        return self.send_json(200, self.server.store.update(ns, name, apply, dry))

    def table(self, objs, rv, version, cont=None, columns=True):
        include = self.q.get("includeObject", "Metadata")
        now = time.time()
        rows = []
        for o in objs:
            md = o["metadata"]
            try:
                ts = datetime.datetime.strptime(md["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ")
                age = human_duration(now - ts.replace(tzinfo=datetime.timezone.utc).timestamp())
            except (KeyError, ValueError):
                age = "<unknown>"
            row = {"cells": [md["name"], len(o.get("data") or {}) + len(o.get("binaryData") or {}), age]}
            if include == "Object":
                row["object"] = o
            elif include != "None":
                row["object"] = {"kind": "PartialObjectMetadata",
                                 "apiVersion": "meta.k8s.io/%s" % version, "metadata": md}
            rows.append(row)
        meta = {"resourceVersion": rv}
        if cont:
            meta["continue"] = cont
        return {"kind": "Table", "apiVersion": "meta.k8s.io/%s" % version, "metadata": meta,
                "columnDefinitions": TABLE_COLUMNS if columns else [], "rows": rows}

    def list(self, ns, fsel, lsel):
        s = self.server
        table, tv = self.wants_table()
        rvq, match = self.q.get("resourceVersion", ""), self.q.get("resourceVersionMatch", "")
        limit = self.q.get("limit", "")
        try:
            limit = int(limit) if limit else 0
        except ValueError:
            raise ApiError.bad_request("invalid limit %r" % limit)
        cont = self.q.get("continue", "")
        start = ""
        with s.store.cond:
            if cont:
                try:
                    tok = json.loads(base64.urlsafe_b64decode(cont.encode()).decode())
                    at, start = int(tok["rv"]), tok["start"]
                except (ValueError, KeyError, TypeError):
                    raise ApiError.bad_request("continue key is not valid: %r" % cont)
                if at < s.store.floor:
                    raise ApiError.expired("The provided continue parameter is too old to display a "
                                           "consistent list result. Start a new list without the "
                                           "continue parameter.")
                objs = s.store.snapshot_at(at)
            elif rvq in ("", "0") and match != "Exact":
                at, objs = s.store.rv, s.store.objects
            else:
                try:
                    want = int(rvq)
                except ValueError:
                    raise ApiError.bad_request("invalid resource version %r" % rvq)
                deadline = time.time() + 3
                while s.store.rv < want and time.time() < deadline and not s.store.closing:
                    s.store.cond.wait(deadline - time.time())
                if s.store.rv < want:
                    raise ApiError(504, "Timeout", "Too large resource version: %d, current: %d"
                                   % (want, s.store.rv),
                                   {"causes": [{"reason": "ResourceVersionTooLarge",
                                                "message": "Too large resource version"}],
                                    "retryAfterSeconds": 1})
                if match == "Exact":
                    at, objs = want, s.store.snapshot_at(want)
                else:
                    at, objs = s.store.rv, s.store.objects
            keys = sorted(k for k in objs if (ns is None or k[0] == ns) and "/".join(k) > start)
            items = []
            next_cont = None
            for k in keys:
                o = objs[k]
                if fsel.matches(o) and lsel.matches(o["metadata"].get("labels")):
                    if limit and len(items) == limit:
                        last = items[-1]["metadata"]
                        next_cont = base64.urlsafe_b64encode(json.dumps(
                            {"rv": at, "start": "%s/%s" % (last["namespace"], last["name"])}).encode()).decode()
                        break
                    items.append(copy.deepcopy(o))
        rv = str(at)
        if table:
            return self.send_json(200, self.table(items, rv, tv, next_cont))
        meta = {"resourceVersion": rv}
        if next_cont:
            meta["continue"] = next_cont
        return self.send_json(200, {"kind": "ConfigMapList", "apiVersion": "v1",
                                    "metadata": meta, "items": items})

    # -- watch

    def watch(self, ns, fsel, lsel):
        s, st = self.server, self.server.store
        table, tv = self.wants_table()
        rvq = self.q.get("resourceVersion", "")
        bookmarks = parse_bool(self.q.get("allowWatchBookmarks", ""))
        initial_end = parse_bool(self.q.get("sendInitialEvents", ""))
        try:
            timeout = max(0, int(self.q.get("timeoutSeconds") or 0))
        except ValueError:
            raise ApiError.bad_request("invalid timeoutSeconds %r" % self.q["timeoutSeconds"])
        if timeout == 0:
            # Unset or 0: the real server picks a random timeout between
            # one and two times its minimum request timeout.
            timeout = s.cfg["watch_timeout"] * (1 + random.random())
        if rvq not in ("", "0"):
            try:
                start = int(rvq)
            except ValueError:
                raise ApiError.bad_request("invalid resource version %r" % rvq)
        wanted = lambda o: ((ns is None or o["metadata"]["namespace"] == ns) and fsel.matches(o)
                            and lsel.matches(o["metadata"].get("labels")))
        with st.cond:
            initial = []
            too_old = None
            if rvq in ("", "0"):
                pos = st.rv
                initial = [copy.deepcopy(o) for k, o in sorted(st.objects.items()) if wanted(o)]
            else:
                pos = start
                if start < st.floor:
                    too_old = ApiError.expired("too old resource version: %d (%d)" % (start, st.floor))
        with s.lock:
            s.watch_seq += 1
            w = Watch(s.watch_seq, self, self.upath, self.rawquery, self._entry["user"])
            w.pos = pos
            s.watches[w.id] = w
        self._entry["status"] = 200
        self._entry["watch_id"] = w.id
        self.server.record(self._entry)
        self._recorded = True
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-cache, private")
            self.send_header("Audit-Id", str(uuid.uuid4()))
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            conv = (lambda o: self.table([o], o["metadata"]["resourceVersion"], tv)) if table else (lambda o: o)
            if too_old is not None:
                self.send_events(w, [{"type": "ERROR", "object": too_old.status()}])
                return self.end_stream()
            evs = [{"type": "ADDED", "object": conv(o)} for o in initial]
            if initial_end and bookmarks:
                evs.append({"type": "BOOKMARK", "object": self.bookmark(pos, True)})
            if evs and self.send_events(w, evs):
                return
            self.stream(w, wanted, conv, bookmarks, time.time() + timeout)
        finally:
            with s.lock:
                s.watches.pop(w.id, None)
            w.done.set()

    def bookmark(self, rv, initial_end=False):
        md = {"resourceVersion": str(rv), "creationTimestamp": None}
        if initial_end:
            md["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {"kind": "ConfigMap", "apiVersion": "v1", "metadata": md}

    def stream(self, w, wanted, conv, bookmarks, deadline):
        s, st = self.server, self.server.store
        last_sent = time.time()
        while True:
            out, end = [], False
            with st.cond:
                while True:
                    now = time.time()
                    if w.cut or st.closing or now >= deadline:
                        break
                    stalled = s.cfg["stall"]
                    interval = s.cfg["bookmark_interval"]
                    if not stalled and st.rv > w.pos:
                        break
                    if bookmarks and not stalled and now - last_sent >= interval:
                        break
                    wait = deadline - now
                    if bookmarks and not stalled:
                        wait = min(wait, interval - (now - last_sent))
                    st.cond.wait(max(0.01, min(wait, 1.0)))
                stalled = s.cfg["stall"]
                if w.cut:
                    pass
                elif st.closing:
                    end = True
                elif w.pos < st.floor and st.rv > w.pos and not stalled:
                    # The history moved past this watcher (compaction or a
                    # tiny --history): like a watch cache, report Expired.
                    out = [{"type": "ERROR", "object": ApiError.expired(
                        "too old resource version: %d (%d)" % (w.pos, st.floor)).status()}]
                    end = True
                else:
                    end = time.time() >= deadline
                    if not stalled:
                        out = self.collect(w, wanted, conv)
                        if (not out and not end and bookmarks
                                and time.time() - last_sent >= s.cfg["bookmark_interval"]):
                            out = [{"type": "BOOKMARK", "object": self.bookmark(w.pos)}]
            if w.cut:
                return self.abort(w.cut)
            if out:
                if self.send_events(w, out):
                    return
                last_sent = time.time()
            if end:
                return self.end_stream()

    def collect(self, w, wanted, conv):
        """Events after the watcher's position that it should see; a
        MODIFIED that moves an object into or out of the selection becomes
        ADDED or DELETED, as the watch cache does.  Caller holds the lock."""
        out = []
        for ev in self.server.store.events_after(w.pos):
            now_in, was_in = wanted(ev.obj), ev.old is not None and wanted(ev.old)
            typ = ev.type
            if typ == "MODIFIED" and now_in and not was_in:
                typ = "ADDED"
            elif typ == "MODIFIED" and was_in and not now_in:
                typ, now_in = "DELETED", True
            elif typ == "DELETED":
                now_in = was_in
            if now_in:
                out.append({"type": typ, "object": conv(copy.deepcopy(ev.obj))})
        w.pos = max(w.pos, self.server.store.rv)
        return out

    def send_events(self, w, events):
        """Write events as chunks; returns True when the stream was cut."""
        mode, size = self.server.cfg["chunk_mode"], max(1, int(self.server.cfg["chunk_size"]))
        lines = [(json.dumps(ev, separators=(",", ":")) + "\n").encode() for ev in events]
        if mode == "coalesce":
            chunks = [b"".join(lines)]
        elif mode == "split":
            blob = b"".join(lines)
            chunks = [blob[i:i + size] for i in range(0, len(blob), size)]
        else:
            chunks = lines
        for c in chunks:
            if w.cut:
                self.abort(w.cut)
                return True
            self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
        return False

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")

    def abort(self, cut):
        """Cut this watch: optionally leave half an event in flight, then
        close TCP without finishing the chunked body (or end it cleanly
        when clean=true)."""
        conn = self.connection
        try:
            if cut.get("clean"):
                self.end_stream()
                return
            junk = (json.dumps({"type": "MODIFIED", "object": self.bookmark(self.server.store.rv)},
                               separators=(",", ":")) + "\n").encode()
            half = junk[:len(junk) // 2]
            if cut.get("mid_chunk"):
                self.wfile.write(b"%x\r\n%s" % (len(junk), half))
            elif cut.get("mid_line"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(half), half))
            if cut.get("rst"):
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                hard_close(conn)
            else:
                hard_shutdown(conn)
        except OSError:
            pass
        finally:
            self.close_connection = True

    # -- control API

    def control(self):
        s = self.server
        raw = self.read_body()
        try:
            body = json.loads(raw.decode() or "{}")
        except ValueError as e:
            return self.send_json(400, {"error": "bad JSON: %s" % e})
        path, cmd = self.upath, self.command
        try:
            if path == "/_test/state" and cmd == "GET":
                with s.store.cond:
                    st = {"resourceVersion": s.store.rv, "floor": s.store.floor,
                          "objects": len(s.store.objects), "events": len(s.store.events)}
                with s.lock:
                    st.update(watches=len(s.watches), connections=len(s.conns),
                              accepted=s.conn_count, requests=s.log_seq)
                st.update(config=s.cfg, forbid=s.forbid.names, faults=s.faults.snapshot(),
                          port=s.server_address[1])
                return self.send_json(200, st)
            if path == "/_test/watches" and cmd == "GET":
                with s.lock:
                    return self.send_json(200, [w.info() for w in s.watches.values()])
            if path == "/_test/log":
                if cmd == "DELETE":
                    with s.lock:
                        s.log = []
                    return self.send_json(200, {})
                since = int(self.q.get("since", "0"))
                with s.lock:
                    return self.send_json(200, [e for e in s.log if e["seq"] > since])
            if path.startswith("/_test/configmaps/"):
                parts = path[len("/_test/configmaps/"):].split("/")
                if len(parts) != 2:
                    return self.send_json(400, {"error": "use /_test/configmaps/NAMESPACE/NAME"})
                ns, name = parts
                if cmd == "DELETE":
                    obj, _ = s.store.delete(ns, name)
                    return self.send_json(200, obj)
                if cmd == "GET":
                    return self.send_json(200, s.store.get(ns, name))
                return self.send_json(200, self.upsert(ns, name, body))
            if path == "/_test/cut" and cmd == "POST":
                return self.send_json(200, s.cut_connections(body, self.connection))
            if path == "/_test/compact" and cmd == "POST":
                return self.send_json(200, {"floor": s.store.compact(body.get("resourceVersion"))})
            if path == "/_test/faults":
                if cmd == "DELETE":
                    s.faults.clear()
                else:
                    for rule in body if isinstance(body, list) else [body]:
                        s.faults.add(rule)
                return self.send_json(200, s.faults.snapshot())
            if path == "/_test/forbid" and cmd == "POST":
                names = body.get("names")
                s.forbid.names = None if names is None else list(names)
                s.forbid.verbs = tuple(body.get("verbs") or ("get", "list", "watch"))
                return self.send_json(200, {"names": s.forbid.names, "verbs": s.forbid.verbs})
            if path == "/_test/config" and cmd == "POST":
                for k, v in body.items():
                    if k == "history":
                        with s.store.cond:
                            s.store.max_history = int(v)
                    elif k == "max_data":
                        s.store.max_data = int(v)
                    elif k in s.cfg:
                        s.cfg[k] = type(s.cfg[k])(v) if not isinstance(s.cfg[k], bool) else bool(v)
                    else:
                        return self.send_json(400, {"error": "unknown setting %s" % k})
                with s.store.cond:
                    s.store.cond.notify_all()
                return self.send_json(200, s.cfg)
            if path == "/_test/token" and cmd == "POST":
                write_atomic(s.opts.token_file, body["token"])
                return self.send_json(200, {})
            if path == "/_test/shutdown" and cmd == "POST":
                self.send_json(200, {})
                threading.Thread(target=shutdown, args=(s,), daemon=True).start()
                return
        except ApiError as e:
            return self.send_error_status(e)
        except (KeyError, ValueError, TypeError) as e:
            return self.send_json(400, {"error": "%s: %s" % (type(e).__name__, e)})
        return self.send_json(404, {"error": "no such control endpoint %s %s" % (cmd, path)})

    def upsert(self, ns, name, body):
        """Create or replace a ConfigMap, bypassing auth, faults and RBAC.
        The body holds data, binaryData, labels, annotations, immutable;
        validate=false skips validation (to plant an oversized object)."""
        st = self.server.store
        obj = {"metadata": {"name": name, "namespace": ns}}
        for k in ("labels", "annotations", "finalizers"):
            if k in body:
                obj["metadata"][k] = body[k]
        for k in ("data", "binaryData", "immutable"):
            if k in body:
                obj[k] = body[k]
        decode_configmap(obj, ns)
        check = body.get("validate") is not False
        try:
            return st.update(ns, name, lambda cur: obj, precondition_rv=False, check=check)
        except ApiError as e:
            if e.code != 404:
                raise
            return st.create(ns, obj, check=check)


def pb_varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pb_bytes(field, data):
    """A length-delimited protobuf field (wire type 2)."""
    return pb_varint(field << 3 | 2) + pb_varint(len(data)) + data


def pb_string(field, text):
    return pb_bytes(field, text.encode())


def hard_close(conn):
    """Close the TCP socket under a TLS connection without close_notify."""
    try:
        fd = conn.detach() if hasattr(conn, "detach") else conn.fileno()
        os.close(fd)
    except OSError:
        pass


def write_atomic(path, text, mode=0o600):
    tmp = "%s.tmp%d" % (path, os.getpid())
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "w") as f:
        f.write(text)
    os.replace(tmp, path)


# ---------------------------------------------------------------- setup

def openssl(*args, cwd):
    subprocess.run(("openssl",) + args, cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_certs(d):
    """A throwaway CA, a server certificate for the loopback names and a
    client certificate (CN hotcfg-client, O system:masters)."""
    if all(os.path.exists(os.path.join(d, f)) for f in
           ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")):
        return
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "30",
            "-subj", "/CN=hotcfg-test-ca",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n"
                "extendedKeyUsage=serverAuth\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "basicConstraints=CA:FALSE\n")
    with open(os.path.join(d, "client.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "basicConstraints=CA:FALSE\n")
    for who, subj in (("server", "/CN=kube-apiserver"),
                      ("client", "/O=system:masters/CN=hotcfg-client")):
        openssl("req", "-new", *ec, "-keyout", who + ".key", "-out", who + ".csr",
                "-subj", subj, cwd=d)
        openssl("x509", "-req", "-in", who + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "30", "-out", who + ".crt",
                "-extfile", who + ".ext", cwd=d)
    for f in ("server.key", "client.key", "ca.key"):
        os.chmod(os.path.join(d, f), 0o600)


def b64file(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def kubeconfig(server, cluster_lines, user_lines, namespace="default"):
    return "\n".join([
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: hotcfg-test",
        "  cluster:",
        "    server: %s" % server,
    ] + ["    " + l for l in cluster_lines] + [
        "contexts:",
        "- name: hotcfg-test",
        "  context:",
        "    cluster: hotcfg-test",
        "    user: hotcfg-test",
        "    namespace: %s" % namespace,
        "current-context: hotcfg-test",
        "preferences: {}",
        "users:",
        "- name: hotcfg-test",
        "  user:",
    ] + ["    " + l for l in user_lines]) + "\n"


def write_outputs(opts, port):
    """kubeconfig files, the service-account layout and env, then the port
    file last: its appearance means the server is ready."""
    d = opts.dir
    host = opts.listen if ":" not in opts.listen else "[%s]" % opts.listen
    url = "https://%s:%d" % (host, port)
    ca = os.path.join(d, "ca.crt")
    with open(opts.token_file, encoding="utf-8") as f:
        token = f.readline().split(",")[0].strip()
    outs = {
        "kubeconfig": kubeconfig(url, ["certificate-authority-data: " + b64file(ca)],
                                 ["token: " + token]),
        "kubeconfig-tokenfile": kubeconfig(url, ["certificate-authority: " + ca],
                                           ["tokenFile: " + opts.token_file]),
        "kubeconfig-cert": kubeconfig(url, ["certificate-authority-data: " + b64file(ca)],
                                      ["client-certificate-data: " + b64file(os.path.join(d, "client.crt")),
                                       "client-key-data: " + b64file(os.path.join(d, "client.key"))]),
        "env": "KUBERNETES_SERVICE_HOST=%s\nKUBERNETES_SERVICE_PORT=%d\n" % (opts.listen, port),
        "url": url + "\n",
    }
    for name, text in outs.items():
        write_atomic(os.path.join(d, name), text)
    if opts.kubeconfig:
        write_atomic(opts.kubeconfig, outs["kubeconfig"])
    sa = os.path.join(d, "serviceaccount")
    os.makedirs(sa, exist_ok=True)
    write_atomic(os.path.join(sa, "namespace"), "default")
    with open(ca) as f:
        write_atomic(os.path.join(sa, "ca.crt"), f.read(), 0o644)
    if not os.path.exists(os.path.join(sa, "token")):
        os.symlink(os.path.abspath(opts.token_file), os.path.join(sa, "token"))
    write_atomic(opts.port_file or os.path.join(d, "port"), "%d\n" % port, 0o644)


def shutdown(server):
    server.store.close()
    server.shutdown()


def main(argv=None):
    ap = argparse.ArgumentParser(description="Kubernetes API server test double (ConfigMaps).")
    ap.add_argument("--dir", required=True, help="state directory: certs, token, kubeconfigs, port")
    ap.add_argument("--listen", default="127.0.0.1", help="loopback address (127.0.0.1 or ::1)")
    ap.add_argument("--port", type=int, default=0, help="port (0 picks a free one)")
    ap.add_argument("--port-file", help="write the port here (default DIR/port)")
    ap.add_argument("--kubeconfig", help="also write the token kubeconfig here")
    ap.add_argument("--token-file", help="bearer tokens, re-read per request (default DIR/token)")
    ap.add_argument("--token", help="initial token when the token file does not exist")
    ap.add_argument("--no-auth", action="store_true", help="accept requests without credentials")
    ap.add_argument("--bookmark-interval", type=float, default=60.0)
    ap.add_argument("--watch-timeout", type=float, default=1800.0,
                    help="base of the randomized timeout for watches without timeoutSeconds")
    ap.add_argument("--history", type=int, default=1000, help="events kept for watches")
    ap.add_argument("--initial-rv", type=int, default=1000)
    ap.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY)
    ap.add_argument("--max-data", type=int, default=MAX_CONFIGMAP_DATA)
    ap.add_argument("--idle-timeout", type=float, default=300.0)
    ap.add_argument("--request-log", help="append every API request as a JSON line")
    ap.add_argument("--quiet", action="store_true")
    opts = ap.parse_args(argv)
    if opts.listen not in LOOPBACK:
        ap.error("--listen must be a loopback address")
    if opts.listen == "localhost":
        opts.listen = "127.0.0.1"
    os.makedirs(opts.dir, exist_ok=True)
    opts.dir = os.path.abspath(opts.dir)
    make_certs(opts.dir)
    if opts.token_file is None:
        opts.token_file = os.path.join(opts.dir, "token")
    if not os.path.exists(opts.token_file):
        tok = opts.token or "".join(random.choice(string.ascii_letters + string.digits) for _ in range(32))
        write_atomic(opts.token_file, tok)  # no newline, like a service-account token

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(opts.dir, "server.crt"), os.path.join(opts.dir, "server.key"))
    ctx.load_verify_locations(os.path.join(opts.dir, "ca.crt"))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])

    server = ApiServer((opts.listen, opts.port), ctx, opts)
    if opts.no_auth:
        server.authn = Authn(None)
    port = server.server_address[1]
    write_outputs(opts, port)
    print("apiserver: listening on https://%s:%d dir=%s" % (opts.listen, port, opts.dir), flush=True)

    def on_term(signum, frame):
        threading.Thread(target=shutdown, args=(server,), daemon=True).start()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.store.close()
        with server.lock:
            watches = list(server.watches.values())
        for w in watches:
            w.done.wait(2)
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
