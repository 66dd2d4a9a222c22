"""STS AssumeRole for sg_emulator: credentials that name the role, a record of who assumed
what, and optional trust conditions (see README.md, "STS AssumeRole").

AWS STS API Reference, AssumeRole
(https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html): "Returns a set of
temporary security credentials that you can use to access AWS resources"; the answer's
Credentials hold AccessKeyId, SecretAccessKey, SessionToken and Expiration, the
AssumedRoleUser its `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION` ARN. ExternalId: "A
unique identifier that might be required when you assume a role in another account";
AccessDenied (HTTP 403) when the role's trust policy does not let the caller assume it.

moto 5.2.5 carries AssumeRole out already: any role ARN may be assumed (no trust policy is
checked) and the temporary key is created in the IAM backend of the ARN's account, so every
later request signed with it lands in that account's backends: two roles in two accounts
see two separate sets of VPCs and groups, as in AWS. What this module adds:

  * the access key id is derived from the role ARN (``access_key_for``): every AssumeRole of
    one role answers the same key id (a new secret and session token each time), so the
    emulator's per-key counters add up one role's calls, and a test knows the key before the
    controller assumes the role.  AWS issues a new key id per call; callers must not (and
    the AWS SDKs do not) rely on either.
  * a record per role: how often it was assumed and refused, by which caller keys, with
    which ExternalIds and session names.
  * trust conditions per role: ``{"external_id": "X"}`` makes an AssumeRole of that role
    without ExternalId X answer AccessDenied, as a trust policy with the condition
    ``"StringEquals": {"sts:ExternalId": "X"}`` does.
  * short sessions, a test accelerator: ``session_s`` per role makes the answer's Expiration
    that many seconds from now (AWS: DurationSeconds 900 s to the role's maximum, 1 h by
    default), so that a client's refresh before expiry can be seen in minutes.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import re
import uuid
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID

_APPLIED = False
_ROLE_ACCOUNT = re.compile(r"^arn:[a-z-]+:iam::([0-9]{12}):role/")
_EXPIRATION = re.compile(rb"<Expiration>[^<]*</Expiration>")
MAX_SESSION_S = 43200.0  # AWS's longest role session (12 h)


def access_key_for(role_arn: str) -> str:
    """The key id every AssumeRole of `role_arn` answers: ASIA + 16 base32 characters of the
    ARN's SHA-256 (20 characters, as AWS's temporary key ids)."""
    digest = hashlib.sha256(role_arn.encode()).digest()
    return "ASIA" + base64.b32encode(digest).decode()[:16]


def account_of(role_arn: str) -> str:
    """The role's account (moto's choice too: the ARN's, else the default account)."""
    m = _ROLE_ACCOUNT.match(role_arn)
    return m.group(1) if m else DEFAULT_ACCOUNT_ID


def sts_error(status: int, code: str, message: str, kind: str = "Sender") -> tuple[int, list[tuple[str, str]], bytes]:
    """An STS (query protocol) error answer."""
    esc = message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<Error><Type>{kind}</Type><Code>{code}</Code><Message>{esc}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    ).encode()
    return status, [("Content-Type", "text/xml")], body


class Roles:
    """Who assumed which role, and the roles' trust conditions.  Callers hold the emulator's
    moto lock."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.trust: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, float] = {}

    def _record(self, role_arn: str) -> dict[str, Any]:
        rec = self.records.get(role_arn)
        if rec is None:
            rec = self.records[role_arn] = {
                "access_key_id": access_key_for(role_arn),
                "account_id": account_of(role_arn),
                "assumed": 0,
                "denied": 0,
                "callers": {},
                "external_ids": [],
                "session_names": [],
            }
        return rec

    def check(self, caller: str | None, params: dict[str, list[str]]) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """AccessDenied when the role's trust conditions refuse this AssumeRole, else None."""
        role_arn = (params.get("RoleArn") or [""])[0]
        trust = self.trust.get(role_arn)
        if trust is None or "external_id" not in trust:
            return None
        given = (params.get("ExternalId") or [None])[0]
        if given == trust["external_id"]:
            return None
        self._record(role_arn)["denied"] += 1
        who = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:user/{caller or 'anonymous'}"
        return sts_error(403, "AccessDenied",
                         f"User: {who} is not authorized to perform: sts:AssumeRole on resource: {role_arn}")

    def assumed(self, caller: str | None, params: dict[str, list[str]],
                resp: tuple[int, list[tuple[str, str]], bytes]) -> tuple[int, list[tuple[str, str]], bytes]:
        """Records a successful AssumeRole; its answer, with the role's short session if it has one."""
        one = lambda name: (params.get(name) or [None])[0]  # noqa: E731
        role_arn = one("RoleArn") or ""
        seconds = self.sessions.get(role_arn)
        if seconds is not None:
            at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
            stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode()
            resp = (resp[0], resp[1], _EXPIRATION.sub(b"<Expiration>" + stamp + b"</Expiration>", resp[2], count=1))
        rec = self._record(role_arn)
        rec["assumed"] += 1
        key = caller or "anonymous"
        rec["callers"][key] = rec["callers"].get(key, 0) + 1
        for field, value in (("external_ids", one("ExternalId")), ("session_names", one("RoleSessionName"))):
            if value not in rec[field]:
                rec[field].append(value)
        return resp

    def snapshot(self, role_arn: str | None = None) -> dict[str, Any]:
        """Every role's record and the trust conditions; with `role_arn`, that role's record
        (zeros, and its access key, when it was never assumed)."""
        if role_arn is not None:
            rec = self.records.get(role_arn)
            if rec is None:
                rec = Roles()._record(role_arn)
            return {"role_arn": role_arn, **_copy(rec), "trust": _copy(self.trust.get(role_arn)),
                    "session_s": self.sessions.get(role_arn)}
        return {"roles": _copy(self.records), "trust": _copy(self.trust), "session_s": dict(self.sessions)}

    def update(self, doc: Any) -> None:
        """`{"trust": {ARN: {"external_id": "X"} | null}, "session_s": {ARN: S | null}}` (either
        key or both): sets (null: removes) roles' trust conditions and short sessions;
        ValueError on a bad document (nothing changes)."""
        keys = set(doc) if isinstance(doc, dict) else set()
        if not keys or keys - {"trust", "session_s"} or not all(isinstance(doc[k], dict) for k in keys):
            raise ValueError('body must be {"trust": {ROLE_ARN: {"external_id": "X"} | null}, '
                             '"session_s": {ROLE_ARN: SECONDS | null}} (either key or both)')
        trust = self._trust(doc.get("trust", {}))
        sessions = self._sessions(doc.get("session_s", {}))
        self.trust, self.sessions = trust, sessions

    def _sessions(self, changes: dict[str, Any]) -> dict[str, float]:
        new = dict(self.sessions)
        for role_arn, seconds in changes.items():
            if seconds is None:
                new.pop(role_arn, None)
            elif isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= MAX_SESSION_S:
                raise ValueError(f"session_s of {role_arn}: seconds in (0, {MAX_SESSION_S:g}] or null")
            else:
                new[role_arn] = float(seconds)
        return new

    def _trust(self, changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
        new = dict(self.trust)
        for role_arn, cond in changes.items():
            if cond is None:
                new.pop(role_arn, None)
                continue
            if not isinstance(cond, dict) or set(cond) - {"external_id"}:
                raise ValueError(f"trust of {role_arn}: an object with optional key external_id")
            if "external_id" in cond and not isinstance(cond["external_id"], str):
                raise ValueError(f"trust of {role_arn}: external_id must be a string")
            new[role_arn] = dict(cond)
        return new


def _copy(doc: Any) -> Any:
    import copy

    return copy.deepcopy(doc)


def apply() -> None:
    """Makes moto's AssumeRole answer the role's derived key id; idempotent."""
    global _APPLIED
    if _APPLIED:
        return
    from moto.iam.models import iam_backends
    from moto.sts.models import STSBackend

    original = STSBackend._create_access_key

    def create_access_key(self: Any, role: str) -> tuple[str, Any]:
        account_id, key = original(self, role)
        keys = iam_backends[account_id][self.partition].access_keys
        keys.pop(key.access_key_id, None)
        key.access_key_id = access_key_for(role)
        keys[key.access_key_id] = key
        return account_id, key

    STSBackend._create_access_key = create_access_key  # type: ignore[method-assign]
    _APPLIED = True
