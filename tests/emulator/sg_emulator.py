#!/usr/bin/env python3
"""AWS emulator for sg-provisioner tests: moto (EC2 + SSM + STS) in server mode plus
what moto lacks and AWS does.

    python tests/emulator/sg_emulator.py --port 0 --ready-file PATH

Listens on 127.0.0.1 (one port for EC2, SSM, STS and the control API), writes the
port to PATH once it answers (atomically: temp file + rename) and prints
``EMULATOR_URL=http://127.0.0.1:PORT`` on stdout.  Exits on SIGTERM/SIGINT and
when its parent process dies.  See README.md beside this file.

Added over moto (middleware in this file):
  * DependencyViolation / CannotDelete on DeleteSecurityGroup,
  * EC2 RequestLimitExceeded token-bucket throttling (and SSM ThrottlingException),
  * seeded fault injection (500, 503, throttle, dropped connection, slow answer,
    answer dropped after the write committed),
  * an outage switch (every AWS request's connection shut unanswered),
  * the rules-per-security-group quota (adjustable),
  * optional eventual consistency (consistency.py),
  * STS AssumeRole credentials whose key id names the role, a record of who assumed
    which role, optional ExternalId trust conditions (sts_roles.py),
  * request counters,
  * control API under /_emulator/.
Fixes inside moto's security-group model: moto_patches.py.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
from http import HTTPStatus
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import consistency  # noqa: E402
import moto_patches  # noqa: E402
import sts_roles  # noqa: E402
from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server  # noqa: E402
from werkzeug.test import Client  # noqa: E402

CONTROL_PREFIX = "/_emulator/"
MOTO_API_PREFIX = "/moto-api"

# ---------------------------------------------------------------------------
# EC2 request throttling numbers.
#
# Source: "Request throttling for the Amazon EC2 API", section "Request token
# bucket sizes and refill rates" (EC2 developer guide, ec2-api-throttling.html,
# also linked from the EC2 API reference "throttling.html"):
#
#   category                                        bucket  refill/s
#   Non-mutating actions (Describe*/List*/Search*/Get*)   100      20
#   Unfiltered and unpaginated non-mutating actions        50      10
#       (DescribeInstances, DescribeInstanceStatus, DescribeNetworkInterfaces,
#        DescribeSecurityGroups, DescribeSnapshots, DescribeSpotInstanceRequests,
#        DescribeVolumes -- when called with neither a filter nor pagination)
#   Mutating actions                                       50       5
#   Resource-intensive actions                             50       5
#       (AcceptVpcPeeringConnection, AuthorizeSecurityGroupIngress,
#        CancelSpotInstanceRequests, CreateKeyPair, CreateVpcPeeringConnection,
#        DeleteVpcPeeringConnection, RejectVpcPeeringConnection,
#        RevokeSecurityGroupIngress, RequestSpotInstances)
#   Uncategorized actions: own numbers; those near this project are listed in
#   UNCATEGORIZED below (e.g. CreateTags 100/10, CreateNetworkInterface 100/5).
#
# The page says each API is evaluated individually ("throttled on the number of
# requests you make on a per-API basis"): one bucket per action, sized by its
# category.  CreateSecurityGroup, DeleteSecurityGroup, the egress Authorize/Revoke,
# ModifySecurityGroupRules and UpdateSecurityGroupRuleDescriptions* are plain
# "mutating actions" there.
#
# SSM: no such table is published for SSM; a single 40-token, 40/s bucket
# stands in (answers ThrottlingException, HTTP 400, "Rate exceeded").
# ---------------------------------------------------------------------------

CATEGORY_DEFAULTS: dict[str, tuple[float, float]] = {
    "non_mutating": (100, 20),
    "unfiltered_unpaginated": (50, 10),
    "mutating": (50, 5),
    "resource_intensive": (50, 5),
    "ssm": (40, 40),
}

UNFILTERED_UNPAGINATED = {
    "DescribeInstances",
    "DescribeInstanceStatus",
    "DescribeNetworkInterfaces",
    "DescribeSecurityGroups",
    "DescribeSnapshots",
    "DescribeSpotInstanceRequests",
    "DescribeVolumes",
}

RESOURCE_INTENSIVE = {
    "AcceptVpcPeeringConnection",
    "AuthorizeSecurityGroupIngress",
    "CancelSpotInstanceRequests",
    "CreateKeyPair",
    "CreateVpcPeeringConnection",
    "DeleteVpcPeeringConnection",
    "RejectVpcPeeringConnection",
    "RevokeSecurityGroupIngress",
    "RequestSpotInstances",
}

# subset of the "Uncategorized actions" table (capacity, refill per second)
UNCATEGORIZED: dict[str, tuple[float, float]] = {
    "AssignIpv6Addresses": (100, 5),
    "AssignPrivateIpAddresses": (100, 5),
    "CreateNetworkInterface": (100, 5),
    "CreateTags": (100, 10),
    "CreateVpcEndpoint": (4, 0.3),
    "DeleteNetworkInterface": (100, 5),
    "DeleteTags": (100, 10),
    "DeleteVpcEndpoints": (4, 0.3),
    "DescribeSecurityGroupReferences": (20, 5),
    "DescribeStaleSecurityGroups": (20, 5),
    "ModifyNetworkInterfaceAttribute": (100, 5),
    "ModifyVpcEndpoint": (4, 0.3),
    "RunInstances": (5, 2),
    "StartInstances": (5, 2),
    "TerminateInstances": (100, 5),
    "UnassignPrivateIpAddresses": (100, 5),
}

READ_PREFIXES = ("Describe", "Get", "List")
# STS calls change no resource of the account: counted as reads (GetCallerIdentity already is)
STS_READS = frozenset({"AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML",
                       "DecodeAuthorizationMessage"})

FAULT_KINDS = ("500", "503", "throttle", "drop", "slow", "drop_after_commit")
# what "kinds" defaults to: the faults a request never gets past (and "slow")
DEFAULT_FAULT_KINDS = ("500", "503", "throttle", "drop", "slow")
# faults after which the client gets no answer at all
DROP_KINDS = ("drop", "drop_after_commit")
# config "outage": null (none), or "refuse" (every AWS request's connection shut unanswered)
OUTAGE_MODES = (None, "refuse")


def is_read(operation: str) -> bool:
    return operation.startswith(READ_PREFIXES) or operation in STS_READS


def ec2_category(action: str, params: dict[str, list[str]]) -> str:
    if action in UNCATEGORIZED:
        return "uncategorized"
    if action in RESOURCE_INTENSIVE:
        return "resource_intensive"
    if action.startswith(("Describe", "List", "Search", "Get")):
        if action in UNFILTERED_UNPAGINATED:
            filtered = any(k.startswith("Filter.") for k in params)
            paginated = "MaxResults" in params or "NextToken" in params
            if not filtered and not paginated:
                return "unfiltered_unpaginated"
        return "non_mutating"
    return "mutating"


# ---------------------------------------------------------------------------
# AWS error bodies
# ---------------------------------------------------------------------------


def _xml_escape(s: str) -> str:
    return (
        s.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
    )


def ec2_error(status: int, code: str, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Errors><Error><Code>{_xml_escape(code)}</Code>"
        f"<Message>{_xml_escape(message)}</Message></Error></Errors>"
        f"<RequestID>{uuid.uuid4()}</RequestID></Response>"
    ).encode()
    return status, [("Content-Type", "text/xml;charset=UTF-8")], body


def json_error(status: int, code: str, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    body = json.dumps({"__type": code, "message": message}).encode()
    return (
        status,
        [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-RequestId", str(uuid.uuid4())),
            ("X-Amzn-ErrorType", code),
        ],
        body,
    )


def service_error(service: str, kind: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """kind: internal | unavailable | throttle"""
    if service == "sts":
        # STS (query protocol): InternalFailure 500, ServiceUnavailable 503, Throttling 400
        if kind == "internal":
            return sts_roles.sts_error(500, "InternalFailure", "An internal error has occurred.", "Receiver")
        if kind == "unavailable":
            return sts_roles.sts_error(503, "ServiceUnavailable", "Service is unavailable.", "Receiver")
        return sts_roles.sts_error(400, "Throttling", "Rate exceeded")
    if service == "ec2" or service == "other":
        if kind == "internal":
            return ec2_error(500, "InternalError", "An internal error has occurred.")
        if kind == "unavailable":
            return ec2_error(503, "Unavailable", "The server is overloaded and can't handle the request.")
        return ec2_error(503, "RequestLimitExceeded", "Request limit exceeded.")
    if kind == "internal":
        return json_error(500, "InternalServerError", "An internal error has occurred.")
    if kind == "unavailable":
        return json_error(503, "ServiceUnavailable", "Service is unavailable.")
    return json_error(400, "ThrottlingException", "Rate exceeded")


_XML_CODE = re.compile(rb"<Code>([^<]+)</Code>")


def error_code_of(service: str, status: int, headers: list[tuple[str, str]], body: bytes) -> str | None:
    if status < 400:
        return None
    for k, v in headers:
        if k.lower() == "x-amzn-errortype" and v:
            return v.split(":")[0].split("#")[-1]
    m = _XML_CODE.search(body[:4096])
    if m:
        return m.group(1).decode(errors="replace")
    try:
        doc = json.loads(body)
        t = doc.get("__type") or doc.get("code") or doc.get("Code")
        if t:
            return str(t).split("#")[-1]
    except Exception:
        pass
    return f"HTTP{status}"


# ---------------------------------------------------------------------------
# throttling
# ---------------------------------------------------------------------------


class TokenBucket:
    __slots__ = ("capacity", "refill", "tokens", "stamp")

    def __init__(self, capacity: float, refill: float) -> None:
        self.capacity = float(capacity)
        self.refill = float(refill)
        self.tokens = float(capacity)
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.refill)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Throttler:
    """enabled / scope / overrides; see README.md."""

    def __init__(self) -> None:
        self.enabled = False
        self.scope = "action"  # or "category"
        self.overrides: dict[str, dict[str, float]] = {}
        self.buckets: dict[tuple[str, str], TokenBucket] = {}

    def config(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "scope": self.scope,
            "overrides": self.overrides,
            "defaults": {
                **{k: {"capacity": c, "refill_per_sec": r} for k, (c, r) in CATEGORY_DEFAULTS.items()},
                "uncategorized": {
                    k: {"capacity": c, "refill_per_sec": r} for k, (c, r) in UNCATEGORIZED.items()
                },
            },
        }

    def update(self, cfg: dict[str, Any] | None) -> None:
        if cfg is None:
            cfg = {"enabled": False}
        if not isinstance(cfg, dict):
            raise ValueError("throttle must be an object or null")
        unknown = set(cfg) - {"enabled", "scope", "overrides", "defaults"}
        if unknown:
            raise ValueError(f"unknown throttle keys: {sorted(unknown)}")
        if "enabled" in cfg:
            self.enabled = bool(cfg["enabled"])
        if "scope" in cfg:
            if cfg["scope"] not in ("action", "category"):
                raise ValueError("throttle.scope must be 'action' or 'category'")
            self.scope = cfg["scope"]
        if "overrides" in cfg:
            ov = cfg["overrides"] or {}
            if not isinstance(ov, dict):
                raise ValueError("throttle.overrides must be an object")
            clean: dict[str, dict[str, float]] = {}
            for key, val in ov.items():
                if not isinstance(val, dict) or set(val) - {"capacity", "refill_per_sec"}:
                    raise ValueError(f"override {key!r}: expected {{capacity, refill_per_sec}}")
                entry = {}
                for f in ("capacity", "refill_per_sec"):
                    if f in val:
                        v = float(val[f])
                        if v < 0:
                            raise ValueError(f"override {key!r}: {f} must be >= 0")
                        entry[f] = v
                clean[key.replace("-", "_") if key.islower() else key] = entry
            self.overrides = clean
        self.buckets.clear()  # any change starts from full buckets

    def copy_settings(self) -> "Throttler":
        t = Throttler()
        t.enabled, t.scope, t.overrides = self.enabled, self.scope, dict(self.overrides)
        return t

    def _limits(self, action: str, category: str) -> tuple[float, float]:
        if category == "uncategorized":
            cap, refill = UNCATEGORIZED[action]
        else:
            cap, refill = CATEGORY_DEFAULTS[category]
        for key in ("*", category, action):  # most specific last
            ov = self.overrides.get(key)
            if ov:
                cap = ov.get("capacity", cap)
                refill = ov.get("refill_per_sec", refill)
        return cap, refill

    def allow(self, action: str, category: str) -> bool:
        if not self.enabled:
            return True
        shared = category == "ssm" or (self.scope == "category" and category != "uncategorized")
        key = (category, "" if shared else action)
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = TokenBucket(*self._limits(action, category))
        return bucket.take()


# ---------------------------------------------------------------------------
# fault injection
# ---------------------------------------------------------------------------


class Faults:
    """rate / every / seed / kinds / slow_seconds / operations; see README.md."""

    KEYS = {"rate", "seed", "kinds", "slow_seconds", "operations", "every"}

    def __init__(self) -> None:
        self.cfg: dict[str, Any] | None = None
        self.rng = random.Random(0)
        self.eligible_seen = 0

    def update(self, cfg: dict[str, Any] | None) -> None:
        if cfg is None:
            self.cfg = None
            return
        if not isinstance(cfg, dict):
            raise ValueError("faults must be an object or null")
        unknown = set(cfg) - self.KEYS
        if unknown:
            raise ValueError(f"unknown faults keys: {sorted(unknown)}")
        self.cfg = {
            "rate": self._rate(cfg),
            "every": self._every(cfg),
            "seed": cfg.get("seed", 0),
            "kinds": self._kinds(cfg),
            "slow_seconds": float(cfg.get("slow_seconds", 2.0)),
            "operations": self._operations(cfg),
        }
        self.rng = random.Random(self.cfg["seed"])
        self.eligible_seen = 0

    @staticmethod
    def _rate(cfg: dict[str, Any]) -> float:
        rate = float(cfg.get("rate", 0.1))
        if not 0.0 <= rate <= 1.0:
            raise ValueError("faults.rate must be within [0, 1]")
        return rate

    @staticmethod
    def _every(cfg: dict[str, Any]) -> int | None:
        every = cfg.get("every")
        if every is None:
            return None
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError("faults.every must be a positive integer or null")
        return every

    @staticmethod
    def _kinds(cfg: dict[str, Any]) -> list[str]:
        kinds = [str(k) for k in cfg.get("kinds", list(DEFAULT_FAULT_KINDS))]
        if not kinds or set(kinds) - set(FAULT_KINDS):
            raise ValueError(f"faults.kinds must be a non-empty subset of {list(FAULT_KINDS)}")
        return kinds

    @staticmethod
    def _operations(cfg: dict[str, Any]) -> list[str] | None:
        ops = cfg.get("operations")
        if ops is not None and not isinstance(ops, list):
            raise ValueError("faults.operations must be a list or null")
        return [str(o) for o in ops] if ops is not None else None

    def _eligible(self, operation: str) -> bool:
        """Listed in "operations" by name, or by class: "reads" / "writes"."""
        ops = self.cfg["operations"] if self.cfg else None
        if ops is None:
            return True
        kind = "reads" if is_read(operation) else "writes"
        return operation in ops or kind in ops

    def decide(self, operation: str) -> str | None:
        cfg = self.cfg
        if not cfg or not self._eligible(operation):
            return None
        if cfg["every"] is not None:
            self.eligible_seen += 1
            if self.eligible_seen % cfg["every"]:
                return None
        elif self.rng.random() >= cfg["rate"]:
            return None
        return self.rng.choice(cfg["kinds"])


# ---------------------------------------------------------------------------
# quotas
# ---------------------------------------------------------------------------


class Quotas:
    """AWS quotas the emulator enforces, adjustable as an account's are; see README.md."""

    DEFAULTS = {"rules_per_security_group": 60}  # Amazon VPC quotas, "Inbound or outbound rules per security group"

    def __init__(self) -> None:
        self.values = dict(self.DEFAULTS)

    def copy(self) -> "Quotas":
        q = Quotas()
        q.values = dict(self.values)
        return q

    def update(self, cfg: dict[str, Any] | None) -> None:
        if cfg is None:
            self.values = dict(self.DEFAULTS)
            return
        if not isinstance(cfg, dict):
            raise ValueError("quotas must be an object or null")
        unknown = set(cfg) - set(self.DEFAULTS)
        if unknown:
            raise ValueError(f"unknown quotas keys: {sorted(unknown)}")
        for key, value in cfg.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"quotas.{key} must be a positive integer")
            self.values[key] = value


# ---------------------------------------------------------------------------
# counters
# ---------------------------------------------------------------------------


class Counters:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total = self.reads = self.writes = self.ok = 0
        self.by_operation: dict[str, dict[str, int]] = {}
        self.outcomes: dict[str, dict[str, dict[str, int]]] = {}
        self.errors: dict[str, dict[str, int]] = {}
        self.faults_injected = 0
        self.faults_by_kind: dict[str, int] = {}
        self.throttled = 0
        self.outage_refused = 0
        self.consistency_hidden = 0
        self.consistency_by_kind: dict[str, int] = {}
        # GroupName -> wall-clock time (s) of its first CreateSecurityGroup request: when a
        # client started writing that group (the scale benchmark's per-set start)
        self.first_create_at: dict[str, float] = {}

    def request(self, service: str, op: str, params: dict[str, list[str]] | None = None) -> None:
        self.total += 1
        if is_read(op):
            self.reads += 1
        else:
            self.writes += 1
        svc = self.by_operation.setdefault(service, {})
        svc[op] = svc.get(op, 0) + 1
        if op == "CreateSecurityGroup" and params:
            name = (params.get("GroupName") or [""])[0]
            self.first_create_at.setdefault(name, time.time())

    def outcome(self, service: str, op: str, code: str | None) -> None:
        key = code or "ok"
        per = self.outcomes.setdefault(service, {}).setdefault(op, {})
        per[key] = per.get(key, 0) + 1
        if code is None:
            self.ok += 1
        else:
            errs = self.errors.setdefault(service, {})
            errs[code] = errs.get(code, 0) + 1

    def consistency(self, kinds: Iterable[str]) -> None:
        """One answer changed by eventual consistency, in these ways."""
        self.consistency_hidden += 1
        for kind in kinds:
            self.consistency_by_kind[kind] = self.consistency_by_kind.get(kind, 0) + 1

    def fault(self, kind: str) -> None:
        self.faults_injected += 1
        self.faults_by_kind[kind] = self.faults_by_kind.get(kind, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        return json.loads(
            json.dumps(
                {
                    "total": self.total,
                    "reads": self.reads,
                    "writes": self.writes,
                    "ok": self.ok,
                    "by_operation": self.by_operation,
                    "outcomes": self.outcomes,
                    "errors": self.errors,
                    "faults_injected": self.faults_injected,
                    "faults_by_kind": self.faults_by_kind,
                    "throttled": self.throttled,
                    "outage_refused": self.outage_refused,
                    "consistency_hidden": self.consistency_hidden,
                    "consistency_by_kind": self.consistency_by_kind,
                    "first_create_at": self.first_create_at,
                }
            )
        )


# ---------------------------------------------------------------------------
# scopes: global, and one per access key
# ---------------------------------------------------------------------------


class Scope:
    """Counters plus (optionally) own throttle / fault configuration.

    The global scope counts every request and holds the configuration used by
    every access key without one of its own.  An access-key scope counts the
    requests signed with that key; once configured (POST /_emulator/config?access_key=K)
    its throttle buckets and fault RNG serve that key's requests only."""

    def __init__(self) -> None:
        self.counters = Counters()
        self.throttler = Throttler()
        self.faults = Faults()
        self.quotas = Quotas()
        self.consistency = consistency.Consistency()
        self.outage: str | None = None
        self.configured = False

    def config(self) -> dict[str, Any]:
        return {"throttle": self.throttler.config(), "faults": self.faults.cfg, "quotas": dict(self.quotas.values),
                "outage": self.outage, "consistency": dict(self.consistency.values)}

    def updated(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The parts `doc` changes (attribute name -> new object), built on copies.

        Raises ValueError and changes nothing on a bad document."""
        unknown = set(doc) - {"throttle", "faults", "quotas", "outage", "consistency"}
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        parts: dict[str, Any] = {}
        if "outage" in doc:
            if doc["outage"] not in OUTAGE_MODES:
                raise ValueError(f"outage must be one of {list(OUTAGE_MODES)}")
            parts["outage"] = doc["outage"]
        if "throttle" in doc:
            parts["throttler"] = self.throttler.copy_settings()
            parts["throttler"].update(doc["throttle"])
        if "faults" in doc:
            parts["faults"] = Faults()
            parts["faults"].update(doc["faults"])
        if "quotas" in doc:
            parts["quotas"] = self.quotas.copy()
            parts["quotas"].update(doc["quotas"])
        if "consistency" in doc:
            parts["consistency"] = self.consistency.copy()
            parts["consistency"].update(doc["consistency"])
        return parts

    def apply(self, parts: dict[str, Any]) -> None:
        for name, value in parts.items():
            setattr(self, name, value)

    def inherit(self, other: "Scope") -> None:
        """Start from `other`'s settings (not its buckets, RNG state or counts)."""
        self.throttler = other.throttler.copy_settings()
        self.faults = Faults()
        if other.faults.cfg:
            self.faults.update(other.faults.cfg)
        self.quotas = other.quotas.copy()
        self.consistency = other.consistency.copy()
        self.outage = other.outage


# ---------------------------------------------------------------------------
# request identification
# ---------------------------------------------------------------------------

_CRED = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/aws4_request")


class AwsRequest:
    __slots__ = ("service", "operation", "region", "access_key", "params", "body")

    def __init__(self, environ: dict[str, Any], body: bytes) -> None:
        self.body = body
        auth = environ.get("HTTP_AUTHORIZATION", "")
        m = _CRED.search(auth)
        self.access_key = m.group(1) if m else None
        self.region = m.group(2) if m else "us-east-1"
        signing = m.group(3) if m else None
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        self.params: dict[str, list[str]] = {}
        ctype = environ.get("CONTENT_TYPE", "")
        if environ.get("QUERY_STRING"):
            self.params.update(parse_qs(environ["QUERY_STRING"], keep_blank_values=True))
        if "x-www-form-urlencoded" in ctype and body:
            self.params.update(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
        action = (self.params.get("Action") or [""])[0]
        if signing == "ssm" or target.startswith("AmazonSSM."):
            self.service = "ssm"
            self.operation = target.split(".", 1)[1] if "." in target else (action or "Unknown")
        elif signing == "ec2" or (signing is None and action and self.params.get("Version", [""])[0] == "2016-11-15"):
            self.service = "ec2"
            self.operation = action or "Unknown"
        elif signing == "sts" or (signing is None and action and self.params.get("Version", [""])[0] == "2011-06-15"):
            self.service = "sts"
            self.operation = action or "Unknown"
        else:
            self.service = "other"
            if target:
                self.operation = target.rsplit(".", 1)[-1]
            elif action:
                self.operation = action
            else:
                self.operation = f"{environ.get('REQUEST_METHOD', 'GET')} {environ.get('PATH_INFO', '/')}"

    def param(self, name: str) -> str | None:
        v = self.params.get(name)
        return v[0] if v else None


# ---------------------------------------------------------------------------
# the WSGI application
# ---------------------------------------------------------------------------

Response = tuple[int, list[tuple[str, str]], bytes]

# injected fault kind -> service_error kind
INJECTED_ERRORS = {"500": "internal", "503": "unavailable", "throttle": "throttle"}


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Status"


class Emulator:
    def __init__(self) -> None:
        moto_patches.apply()
        consistency.apply()
        sts_roles.apply()
        self.ledger = consistency.Ledger()  # under moto_lock
        self.roles = sts_roles.Roles()  # under moto_lock
        self.moto_app = DomainDispatcherApplication(create_backend_app)
        self.state_lock = threading.Lock()  # counters, config, rng, buckets
        self.moto_lock = threading.RLock()  # moto itself is not thread-safe
        self.glob = Scope()
        self.keys: dict[str, Scope] = {}
        self.env_throttle: Any = None
        self.env_faults: Any = None
        self.env_quotas: Any = None
        self.env_consistency: Any = None

    # -- config -------------------------------------------------------------

    def load_env(self) -> None:
        raw = os.environ.get("SG_EMULATOR_THROTTLE", "").strip()
        if raw:
            if raw.lower() in ("1", "true", "yes", "on"):
                self.env_throttle = {"enabled": True}
            elif raw.lower() in ("0", "false", "no", "off"):
                self.env_throttle = None
            else:
                self.env_throttle = json.loads(raw)
        raw = os.environ.get("SG_EMULATOR_FAULTS", "").strip()
        if raw:
            self.env_faults = json.loads(raw)
        raw = os.environ.get("SG_EMULATOR_QUOTAS", "").strip()
        if raw:
            self.env_quotas = json.loads(raw)
        raw = os.environ.get("SG_EMULATOR_CONSISTENCY", "").strip()
        if raw:
            self.env_consistency = json.loads(raw)
        self.defaults()

    def defaults(self) -> None:
        """Global scope from the environment, no access-key scopes, zero counts."""
        glob = Scope()
        if self.env_throttle:
            glob.throttler.update(self.env_throttle)
        if self.env_faults:
            glob.faults.update(self.env_faults)
        if self.env_quotas:
            glob.quotas.update(self.env_quotas)
        if self.env_consistency:
            glob.consistency.update(self.env_consistency)
        self.glob = glob
        self.keys = {}

    def _key_scope(self, access_key: str) -> Scope:
        scope = self.keys.get(access_key)
        if scope is None:
            scope = self.keys[access_key] = Scope()
        return scope

    # -- prewarm ------------------------------------------------------------

    def prewarm(self) -> None:
        """Import and build moto's EC2, SSM and STS apps now rather than on the first request."""
        client = Client(self.moto_app)
        for svc, kwargs in (
            ("ec2", {"data": {"Action": "DescribeRegions", "Version": "2016-11-15"}}),
            ("sts", {"data": {"Action": "GetCallerIdentity", "Version": "2011-06-15"}}),
            ("ssm", {"data": "{}", "headers": {"X-Amz-Target": "AmazonSSM.DescribeParameters",
                                               "Content-Type": "application/x-amz-json-1.1"}}),
        ):
            headers = dict(kwargs.pop("headers", {}))
            headers["Authorization"] = (
                f"AWS4-HMAC-SHA256 Credential=prewarm/20200101/us-east-1/{svc}/aws4_request, "
                "SignedHeaders=host, Signature=0"
            )
            client.post("/", headers=headers, **kwargs)

    # -- WSGI entry ---------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX) or path.rstrip("/") == CONTROL_PREFIX.rstrip("/"):
            return self._reply(start_response, self.control(environ, path))
        if path.startswith(MOTO_API_PREFIX):
            with self.moto_lock:
                return self._reply(start_response, self._buffered(self.moto_app, environ))
        return self.aws(environ, start_response)

    @staticmethod
    def _reply(start_response: Callable[..., Any], resp: Response) -> list[bytes]:
        status, headers, body = resp
        headers = list(headers) + [("Content-Length", str(len(body)))]
        start_response(f"{status} {_reason(status)}", headers)
        return [body]

    @staticmethod
    def _buffered(app: Any, environ: dict[str, Any]) -> Response:
        """Runs a WSGI app to completion: its status, headers (no Content-Length) and body."""
        captured: dict[str, Any] = {}

        def sr(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            captured["status"] = status
            captured["headers"] = headers
            return lambda data: None  # moto never uses write()

        it = app(environ, sr)
        try:
            body = b"".join(it)
        finally:
            close = getattr(it, "close", None)
            if close:
                close()
        status_line = captured.get("status", "500 Internal Server Error")
        headers = [(k, v) for k, v in captured.get("headers", []) if k.lower() != "content-length"]
        return int(status_line.split()[0]), headers, body

    @staticmethod
    def _read_body(environ: dict[str, Any]) -> bytes:
        stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH")
        if length:
            body = stream.read(int(length))
        elif environ.get("wsgi.input_terminated") or "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = stream.read()
        else:
            body = b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ.pop("wsgi.input_terminated", None)
        return body

    # -- EC2 / SSM requests -------------------------------------------------

    def aws(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        req = AwsRequest(environ, self._read_body(environ))
        refused = self._refused_by_outage(req)
        if refused:
            self._count_outcome(refused, req, "OutageRefused")
            return self._dropped(environ, start_response)
        scopes, eff, fault = self._admit(req)
        resp = None if fault == "drop" else self._answer(req, environ, scopes, eff, fault)
        if fault in DROP_KINDS:
            # "drop": moto never saw the request; "drop_after_commit": it did (and
            # committed what it does), then its answer is lost with the connection
            self._count_outcome(scopes, req, "ConnectionDropped")
            return self._dropped(environ, start_response)
        self._count_outcome(scopes, req, error_code_of(req.service, *resp))
        return self._reply(start_response, resp)

    def _refused_by_outage(self, req: AwsRequest) -> list[Scope]:
        """The scopes counting `req` when an outage is on for it (its key's own config, else
        the global one), counted; [] when there is none.  No throttle token or fault draw is
        spent on a refused request."""
        with self.state_lock:
            scopes = [self.glob]
            if req.access_key:
                scopes.append(self._key_scope(req.access_key))
            eff = scopes[-1] if scopes[-1].configured else self.glob
            if eff.outage is None:
                return []
            for sc in scopes:
                sc.counters.request(req.service, req.operation, req.params)
                sc.counters.outage_refused += 1
        return scopes

    def _admit(self, req: AwsRequest) -> tuple[list[Scope], Scope, str | None]:
        """Counts the request; returns the scopes counting it, the one whose config is in
        force (the key's own, else the global one) and the fault to inject, if any."""
        with self.state_lock:
            scopes = [self.glob]
            if req.access_key:
                scopes.append(self._key_scope(req.access_key))
            eff = scopes[-1] if scopes[-1].configured else self.glob
            for sc in scopes:
                sc.counters.request(req.service, req.operation, req.params)
            fault = eff.faults.decide(req.operation)
            if fault:
                for sc in scopes:
                    sc.counters.fault(fault)
        return scopes, eff, fault

    def _answer(self, req: AwsRequest, environ: dict[str, Any], scopes: list[Scope], eff: Scope,
                fault: str | None) -> Response:
        """An injected error, a throttle error, the emulator's own check, or moto's answer."""
        if fault in INJECTED_ERRORS:
            return service_error(req.service, INJECTED_ERRORS[fault])
        if fault == "slow":
            time.sleep((eff.faults.cfg or {}).get("slow_seconds", 0.0))
        if not self._allowed(req, scopes, eff):
            return service_error(req.service, "throttle")
        resp, kinds = self._call_moto(req, environ, eff)
        if kinds:
            with self.state_lock:
                for sc in scopes:
                    sc.counters.consistency(sorted(kinds))
        return resp

    def _allowed(self, req: AwsRequest, scopes: list[Scope], eff: Scope) -> bool:
        if req.service not in ("ec2", "ssm"):
            return True
        category = ec2_category(req.operation, req.params) if req.service == "ec2" else "ssm"
        with self.state_lock:
            allowed = eff.throttler.allow(req.operation, category)
            if not allowed:
                for sc in scopes:
                    sc.counters.throttled += 1
        return allowed

    def _call_moto(self, req: AwsRequest, environ: dict[str, Any], eff: Scope) -> tuple[Response, set[str]]:
        """The answer, and how eventual consistency changed it (consistency kinds)."""
        with self.moto_lock:
            moto_patches.RULES_QUOTA.limit = eff.quotas.values["rules_per_security_group"]
            hidden = self.ledger.named_hidden_group(req, eff.consistency)
            if hidden:
                return (ec2_error(400, "InvalidGroup.NotFound", f"The security group '{hidden}' does not exist"),
                        {consistency.GROUP_NOT_FOUND})
            resp = self._precheck(req, environ)
            if resp is not None:
                return resp, set()
            backend_of = self._backends_of(req, environ)
            pre = self.ledger.before_write(req, backend_of)
            with self.ledger.view(req, backend_of, eff.consistency) as kinds:
                resp = self._buffered(self.moto_app, environ)
            self.ledger.after_write(req, resp, backend_of, pre)
            if req.service == "sts" and req.operation == "AssumeRole" and resp[0] < 400:
                resp = self.roles.assumed(req.access_key, req.params, resp)
            return resp, kinds

    def _backends_of(self, req: AwsRequest, environ: dict[str, Any]) -> Callable[[str], Any]:
        """service ("ec2" / "ssm") -> the request's moto backend (None if there is none)."""
        def backend_of(service: str) -> Any:
            try:
                if service == "ec2":
                    from moto.ec2.models import ec2_backends as backends
                else:
                    from moto.ssm.models import ssm_backends as backends
                return backends[self._account_id(req, environ)][req.region]
            except Exception:
                return None

        return backend_of

    def _precheck(self, req: AwsRequest, environ: dict[str, Any]) -> Response | None:
        """The emulator's answer where AWS refuses a request moto would carry out."""
        if req.service == "sts" and req.operation == "AssumeRole":
            return self.roles.check(req.access_key, req.params)
        if req.service == "ec2" and req.operation == "DeleteSecurityGroup":
            return self.check_delete_security_group(req, environ)
        if req.service == "ec2" and req.operation == "CreateSecurityGroup":
            return self.check_create_security_group(req)
        if req.service == "ec2" and req.operation in (
            "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress"
        ):
            return self.check_prefix_lists_exist(req, environ)
        return None

    # -- Authorize with a prefix list that does not exist (moto accepts any pl- id) --------

    _PREFIX_LIST_PARAM = re.compile(r"^IpPermissions\.\d+\.PrefixListIds\.\d+\.PrefixListId$")

    def check_prefix_lists_exist(self, req: AwsRequest, environ: dict[str, Any]) -> Response | None:
        """EC2 answers InvalidPrefixListID.NotFound, "The prefix list ID 'pl-…' does not exist"
        (HTTP 400), and adds nothing, when a rule names a prefix list the account cannot see."""
        from moto.ec2.models import ec2_backends

        try:
            backend = ec2_backends[self._account_id(req, environ)][req.region]
        except Exception:
            return None
        known = backend.managed_prefix_lists
        for name, values in req.params.items():
            if self._PREFIX_LIST_PARAM.match(name):
                missing = [v for v in values if v not in known]
                if missing:
                    return ec2_error(400, "InvalidPrefixListID.NotFound",
                                     f"The prefix list ID '{missing[0]}' does not exist")
        return None

    def _count_outcome(self, scopes: list[Scope], req: AwsRequest, code: str | None) -> None:
        with self.state_lock:
            for sc in scopes:
                sc.counters.outcome(req.service, req.operation, code)

    def _dropped(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        self._drop(environ)
        # werkzeug then fails to send anything on the shut socket and drops it quietly
        start_response("500 Internal Server Error", [("Content-Length", "0")])
        return []

    @staticmethod
    def _drop(environ: dict[str, Any]) -> None:
        sock = environ.get("werkzeug.socket")
        if sock is None:
            raise ConnectionAbortedError("drop fault")
        try:
            # RST instead of FIN: the client sees a reset, never a response
            import struct

            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- CreateSecurityGroup constraints (moto accepts any name) ------------------

    # EC2 CreateSecurityGroup, GroupName and GroupDescription: up to 255 characters;
    # in a VPC only a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*; the name
    # can't start with "sg-".
    _SG_TEXT = re.compile(r"^[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]*$")

    def check_create_security_group(self, req: AwsRequest) -> Response | None:
        name = req.param("GroupName") or ""
        desc = req.param("GroupDescription") or ""
        if name.lower().startswith("sg-"):
            return ec2_error(400, "InvalidParameterValue",
                             f"Value ({name}) for parameter GroupName is invalid. Group names may not be in the format sg-*.")
        for field, value in (("GroupName", name), ("GroupDescription", desc)):
            if len(value) > 255:
                return ec2_error(400, "InvalidParameterValue",
                                 f"Value for parameter {field} is invalid. Length exceeds 255 characters.")
            if not self._SG_TEXT.match(value):
                return ec2_error(400, "InvalidParameterValue",
                                 f"Value ({value}) for parameter {field} is invalid. Character sets beyond "
                                 "ASCII a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$* are not allowed.")
        return None

    # -- DeleteSecurityGroup dependency checks --------------------------------

    def _account_id(self, req: AwsRequest, environ: dict[str, Any]) -> str:
        if os.environ.get("MOTO_ACCOUNT_ID"):
            return os.environ["MOTO_ACCOUNT_ID"]
        if environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
            return environ["HTTP_X_MOTO_ACCOUNT_ID"]
        if req.access_key:
            try:
                from moto.iam.models import get_account_id_from

                return get_account_id_from(req.access_key)
            except Exception:
                pass
        return DEFAULT_ACCOUNT_ID

    def check_delete_security_group(self, req: AwsRequest, environ: dict[str, Any]) -> Response | None:
        from moto.ec2.models import ec2_backends

        try:
            backend = ec2_backends[self._account_id(req, environ)][req.region]
        except Exception:
            return None
        group_id = req.param("GroupId")
        group = None
        if group_id:
            group = backend.get_security_group_from_id(group_id)
        elif req.param("GroupName"):
            group = backend.get_security_group_from_name(req.param("GroupName"), backend.default_vpc.id)
        if group is None:
            return None  # moto answers InvalidGroup.NotFound
        gid = group.id
        if group.is_default or group.name == "default":
            return ec2_error(
                400, "CannotDelete",
                f'the specified group: "{gid}" name: "default" cannot be deleted by a user',
            )
        if self._has_dependents(backend, gid):
            return ec2_error(400, "DependencyViolation", f"resource {gid} has a dependent object")
        return None

    @staticmethod
    def _has_dependents(backend: Any, gid: str) -> bool:
        """A network interface or live instance in the group, or another group's rule naming it."""
        def names_gid(groups: Iterable[Any]) -> bool:
            return any(getattr(g, "id", g) == gid for g in groups)

        if any(names_gid(eni.group_set) for eni in list(backend.enis.values())):
            return True
        if any(
            names_gid(inst.security_groups)
            for inst in backend.all_instances()
            if getattr(inst, "state", None) != "terminated"
        ):
            return True
        for groups in list(backend.groups.values()):
            for other in list(groups.values()):
                if other.id == gid:
                    continue  # a self-reference is no dependency
                for rule in list(other.ingress_rules) + list(other.egress_rules):
                    if (rule.source_group or {}).get("GroupId") == gid:
                        return True
        return False

    # -- control API ---------------------------------------------------------

    def control(self, environ: dict[str, Any], path: str) -> Response:
        method = environ.get("REQUEST_METHOD", "GET")
        sub = path[len(CONTROL_PREFIX):].strip("/") if path.startswith(CONTROL_PREFIX) else ""

        def ok(doc: Any, status: int = 200) -> Response:
            return status, [("Content-Type", "application/json")], json.dumps(doc).encode()

        def err(status: int, msg: str) -> Response:
            return ok({"error": msg}, status)

        routes = {
            "health": ("GET",),
            "counts": ("GET",),
            "counts/reset": ("POST",),
            "config": ("GET", "POST"),
            "clock": ("GET", "POST"),
            "assumed-roles": ("GET", "POST"),
            "reset": ("POST",),
        }
        if sub not in routes:
            return err(404, f"unknown control path /_emulator/{sub}; known: {sorted(routes)}")
        if method not in routes[sub]:
            return err(405, f"{method} not allowed on /_emulator/{sub}")
        body = self._read_body(environ)
        query = parse_qs(environ.get("QUERY_STRING", ""))
        access_key = (query.get("access_key") or [None])[0]

        if sub == "health":
            return ok({"ok": True})
        if sub == "counts":
            with self.state_lock:
                scope = self.keys.get(access_key) if access_key else self.glob
                return ok((scope.counters if scope else Counters()).snapshot())
        if sub == "counts/reset":
            with self.state_lock:
                if access_key:
                    if access_key in self.keys:
                        self.keys[access_key].counters.reset()
                else:
                    self.glob.counters.reset()
                    for scope in self.keys.values():
                        scope.counters.reset()
            return ok({"ok": True})
        if sub == "reset":
            from moto.moto_api._internal import moto_api_backend

            with self.moto_lock:
                moto_api_backend.reset()
                self.ledger.reset()
                self.roles.reset()
            with self.state_lock:
                self.defaults()
            return ok({"ok": True})
        if sub == "clock":
            return self._clock(method, body)
        if sub == "assumed-roles":
            return self._assumed_roles(method, body, (query.get("role_arn") or [None])[0])
        # config
        with self.state_lock:
            if access_key:
                scope = self.keys.get(access_key)
                current = scope if scope and scope.configured else self.glob
            else:
                scope = current = self.glob
            if method == "POST":
                try:
                    doc = json.loads(body or b"{}")
                    if not isinstance(doc, dict):
                        raise ValueError("body must be a JSON object")
                    # validated on copies, then swapped in: a bad request changes nothing
                    parts = current.updated(doc)
                except (ValueError, TypeError) as e:
                    return err(400, str(e))
                if access_key:
                    current = self._configured_key_scope(access_key)
                current.apply(parts)
            return ok(current.config())

    def _clock(self, method: str, body: bytes) -> Response:
        """GET: the consistency clock's offset; POST {"advance_s": S}: moves it S >= 0 seconds
        on (everything recorded is then S seconds older)."""
        def answer(doc: Any, status: int = 200) -> Response:
            return status, [("Content-Type", "application/json")], json.dumps(doc).encode()

        with self.moto_lock:
            if method == "POST":
                try:
                    doc = json.loads(body or b"{}")
                    seconds = doc["advance_s"] if isinstance(doc, dict) and set(doc) == {"advance_s"} else None
                except ValueError:
                    seconds = None
                if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds < float("inf"):
                    return answer({"error": 'body must be {"advance_s": <seconds >= 0>}'}, 400)
                self.ledger.advance(float(seconds))
            return answer({"offset_s": self.ledger.offset})

    def _assumed_roles(self, method: str, body: bytes, role_arn: str | None) -> Response:
        """GET: who assumed which role (or one role's record, `?role_arn=`); POST
        {"trust": {...}, "session_s": {...}}: the roles' trust conditions and short sessions
        (sts_roles.Roles.update)."""
        def answer(doc: Any, status: int = 200) -> Response:
            return status, [("Content-Type", "application/json")], json.dumps(doc).encode()

        with self.moto_lock:
            if method == "POST":
                try:
                    self.roles.update(json.loads(body or b"{}"))
                except ValueError as e:
                    return answer({"error": str(e)}, 400)
            return answer(self.roles.snapshot(role_arn))

    def _configured_key_scope(self, access_key: str) -> Scope:
        """Key K's scope with a config of its own (a copy of the global one at first)."""
        scope = self._key_scope(access_key)
        if not scope.configured:
            scope.inherit(self.glob)
            scope.configured = True
        return scope


# ---------------------------------------------------------------------------
# server
# ---------------------------------------------------------------------------


class QuietHandler(MotoRequestHandler):
    log_requests = False

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        if self.log_requests:
            super().log_request(code, size)


def write_ready_file(path: str, port: int) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".sg-emulator-", dir=directory)
    with os.fdopen(fd, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--ready-file", help="write the port here (atomically) once listening")
    ap.add_argument("--log-requests", action="store_true",
                    default=os.environ.get("SG_EMULATOR_LOG_REQUESTS", "") not in ("", "0"),
                    help="log every request on stderr (env SG_EMULATOR_LOG_REQUESTS=1)")
    ap.add_argument("--no-parent-watch", action="store_true",
                    help="keep running when the parent process dies")
    args = ap.parse_args(argv)

    t0 = time.monotonic()
    parent = os.getppid()
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, on_signal)

    emulator = Emulator()
    try:
        emulator.load_env()
    except (ValueError, TypeError) as e:
        print(f"sg_emulator: bad SG_EMULATOR_THROTTLE / SG_EMULATOR_FAULTS / SG_EMULATOR_QUOTAS / SG_EMULATOR_CONSISTENCY: {e}", file=sys.stderr)
        return 2
    emulator.prewarm()

    QuietHandler.log_requests = args.log_requests
    server = make_server(args.host, args.port, emulator, threaded=True, request_handler=QuietHandler)
    port = server.server_port
    serve = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                             name="sg-emulator-serve", daemon=True)
    serve.start()

    if not args.no_parent_watch:
        def watch_parent() -> None:
            while not stop.wait(0.5):
                if os.getppid() != parent:
                    stop.set()

        threading.Thread(target=watch_parent, name="sg-emulator-parent-watch", daemon=True).start()

    if args.ready_file:
        write_ready_file(args.ready_file, port)
    print(f"EMULATOR_URL=http://{args.host}:{port}", flush=True)
    print(f"sg_emulator: ready on port {port} in {time.monotonic() - t0:.2f}s", file=sys.stderr, flush=True)

    while not stop.wait(0.1):
        pass
    server.shutdown()
    server.server_close()
    if args.ready_file:
        try:
            os.unlink(args.ready_file)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # skip interpreter finalisation: tearing down moto's object graph takes seconds
    os._exit(code)
