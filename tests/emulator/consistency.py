"""Optional eventual consistency for sg_emulator (off by default; see README.md).

"Eventual consistency in the Amazon EC2 API" (EC2 developer guide,
eventual-consistency.html): "the result of an API command you run that affects your
Amazon EC2 resources might not be immediately visible to all subsequent commands you
run"; its examples include InvalidGroup.NotFound for a command that uses the group ID
right after a successful CreateSecurityGroup.

Per scope (global / access key) three delays, in seconds, None = immediate:

  group_visible_after_s       a group created less than this ago is left out of
                              DescribeSecurityGroups / DescribeSecurityGroupRules, and a
                              request naming its id answers InvalidGroup.NotFound.  It
                              exists all the same (its name is taken: Duplicate).
  rules_visible_after_s       DescribeSecurityGroups / DescribeSecurityGroupRules show a
                              group's rules as they were this long ago: the state after
                              the last rule change at least this old.
  parameters_visible_after_s  SSM GetParameter(s) / GetParametersByPath /
                              DescribeParameters do not see the parameter versions put
                              less than this ago (a new parameter is not found; an
                              overwritten one shows its previous version).

The Ledger records what happened when (always, so switching a delay on applies to
what was done just before), on a clock tests can move forward (`advance`).  The views
are applied around one moto call, under the emulator's moto lock, and undone after it.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import time
from typing import Any, Iterator

GROUP, RULES, PARAMS = "group_visible_after_s", "rules_visible_after_s", "parameters_visible_after_s"
FIELDS = (GROUP, RULES, PARAMS)
MAX_DELAY_S = 300.0  # the ledger keeps what any delay up to this needs
NEG_INF = float("-inf")

RULE_WRITES = frozenset({
    "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress",
    "ModifySecurityGroupRules",
    "UpdateSecurityGroupRuleDescriptionsIngress", "UpdateSecurityGroupRuleDescriptionsEgress",
})
EC2_VIEW_READS = frozenset({"DescribeSecurityGroups", "DescribeSecurityGroupRules"})
SSM_VIEW_READS = frozenset({"GetParameter", "GetParameters", "GetParametersByPath", "DescribeParameters"})

# kinds of affected answers, as counted in consistency_by_kind
GROUP_NOT_FOUND, GROUP_OMITTED, RULES_STALE, PARAMETER_HIDDEN = (
    "group_not_found", "group_omitted", "rules_stale", "parameter_hidden")

_GROUP_ID = re.compile(rb"<groupId>(sg-[0-9a-f]+)</groupId>")


class Consistency:
    """One scope's delays; see the module docstring."""

    def __init__(self) -> None:
        self.values: dict[str, float | None] = dict.fromkeys(FIELDS)

    def copy(self) -> "Consistency":
        c = Consistency()
        c.values = dict(self.values)
        return c

    def delay(self, field: str) -> float:
        return self.values[field] or 0.0

    def update(self, cfg: dict[str, Any] | None) -> None:
        """null = all off; otherwise the fields given change (each a number of seconds
        in [0, MAX_DELAY_S], or null = immediate)."""
        if cfg is None:
            self.values = dict.fromkeys(FIELDS)
            return
        if not isinstance(cfg, dict):
            raise ValueError("consistency must be an object or null")
        unknown = set(cfg) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown consistency keys: {sorted(unknown)}")
        for key, value in cfg.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not 0 <= value <= MAX_DELAY_S):
                raise ValueError(f"consistency.{key} must be null or a number of seconds in [0, {MAX_DELAY_S:g}]")
            self.values[key] = None if value is None else float(value)


class _View:
    """What the describe wrappers (apply()) hide during one request; inactive otherwise."""

    def __init__(self) -> None:
        self.active = False
        self.hidden: set[str] = set()  # group ids not yet visible
        self.stale: set[str] = set()  # group ids whose rules are shown as they were
        self.kinds: set[str] = set()


VIEW = _View()


def _copy_rules(rules: list[Any]) -> list[Any]:
    """Copies that later in-place edits (descriptions, ModifySecurityGroupRules) leave alone."""
    out = []
    for rule in rules:
        c = copy.copy(rule)
        c.ip_range, c.source_group = dict(rule.ip_range), dict(rule.source_group)
        c.prefix_list = dict(getattr(rule, "prefix_list", {}) or {})
        out.append(c)
    return out


def _find_group(backend: Any, gid: str) -> Any:
    for vpc_groups in backend.groups.values():
        group = vpc_groups.get(gid)
        if group is not None:
            return group
    return None


class Ledger:
    """When groups were created, their rule sets over time, and SSM puts; one clock.

    `backend_of(service)` (passed in) gives the request's moto backend ("ec2" / "ssm"),
    or None."""

    SWEEP_EVERY = 1024  # recorded writes between sweeps of what no delay can still show

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.offset = 0.0
        self.recorded = 0
        self.created: dict[str, float] = {}  # group id -> creation time
        self.rules: dict[str, list[tuple[float, list[Any], list[Any]]]] = {}  # id -> (from, in, out)
        self.puts: dict[tuple[str, str, str], list[tuple[float, int]]] = {}  # (acct, region, name)

    def now(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> float:
        self.offset += seconds
        return self.offset

    def _sweep(self, now: float) -> None:
        old = now - MAX_DELAY_S
        self.created = {gid: t for gid, t in self.created.items() if t > old}
        for gid in list(self.rules):
            self._prune_history(gid, now)
        self.puts = {k: kept for k, v in self.puts.items() if (kept := [p for p in v if p[0] > old])}

    def _recorded(self, now: float) -> None:
        self.recorded += 1
        if self.recorded % self.SWEEP_EVERY == 0:
            self._sweep(now)

    # -- groups not yet visible ----------------------------------------------

    def hidden_groups(self, cfg: Consistency) -> set[str]:
        delay = cfg.delay(GROUP)
        if delay <= 0 or not self.created:
            return set()
        cutoff = self.now() - delay
        return {gid for gid, t in self.created.items() if t > cutoff}

    def named_hidden_group(self, req: Any, cfg: Consistency) -> str | None:
        """The first hidden group a non-filter parameter of an EC2 request names."""
        if req.service != "ec2":
            return None
        hidden = self.hidden_groups(cfg)
        if not hidden:
            return None
        for key, values in req.params.items():
            if key.startswith("Filter.") or key.endswith("Description"):
                continue
            for value in values:
                if value in hidden:
                    return value
        return None

    # -- recording writes ------------------------------------------------------

    def before_write(self, req: Any, backend_of: Any) -> tuple[str, list[Any], list[Any]] | None:
        """The rule set of the group a rule write names, before the write."""
        if req.service != "ec2" or req.operation not in RULE_WRITES:
            return None
        backend = backend_of("ec2")
        gid, name = req.param("GroupId"), req.param("GroupName")
        group = _find_group(backend, gid) if backend is not None and gid else None
        if group is None and backend is not None and name:
            group = backend.get_security_group_by_name_or_id(name)
        if group is None:
            return None
        return group.id, _copy_rules(group.ingress_rules), _copy_rules(group.egress_rules)

    def after_write(self, req: Any, resp: tuple[int, Any, bytes], backend_of: Any, pre: Any) -> None:
        """Records a successful create / rule change / put."""
        status, _, body = resp
        if status != 200:
            return
        now = self.now()
        if req.service == "ec2" and req.operation == "CreateSecurityGroup":
            m = _GROUP_ID.search(body)
            if m:
                self.created[m.group(1).decode()] = now
        elif pre is not None:
            self._rules_changed(backend_of("ec2"), now, *pre)
        elif req.service == "ssm" and req.operation == "PutParameter":
            self._put(req, body, backend_of("ssm"), now)
        else:
            return
        self._recorded(now)

    def _rules_changed(self, backend: Any, now: float, gid: str, ingress: list[Any], egress: list[Any]) -> None:
        group = _find_group(backend, gid) if backend is not None else None
        if group is None:
            return
        history = self.rules.setdefault(gid, [(NEG_INF, ingress, egress)])
        history.append((now, _copy_rules(group.ingress_rules), _copy_rules(group.egress_rules)))
        self._prune_history(gid, now)

    def _prune_history(self, gid: str, now: float) -> None:
        """Drops the entries no delay (<= MAX_DELAY_S) can still show."""
        history = self.rules[gid]
        while len(history) > 1 and history[1][0] <= now - MAX_DELAY_S:
            history.pop(0)
        if len(history) == 1:
            del self.rules[gid]  # the live state, old enough for every delay

    def _put(self, req: Any, body: bytes, backend: Any, now: float) -> None:
        try:
            name = json.loads(req.body or b"{}")["Name"]
            version = int(json.loads(body)["Version"])
        except (ValueError, KeyError, TypeError):
            return
        if backend is not None:
            key = (backend.account_id, backend.region_name, backend._parameters.normalize_name(name))
            self.puts.setdefault(key, []).append((now, version))

    # -- views ------------------------------------------------------------------

    @contextlib.contextmanager
    def view(self, req: Any, backend_of: Any, cfg: Consistency) -> Iterator[set[str]]:
        """Around one moto call: yields the set that collects the kinds of change made to
        its answer (empty when none)."""
        kinds: set[str] = set()
        backend = None
        if req.service == "ec2" and req.operation in EC2_VIEW_READS:
            backend = backend_of("ec2")
        elif req.service == "ssm" and req.operation in SSM_VIEW_READS and cfg.delay(PARAMS) > 0 and self.puts:
            backend = backend_of("ssm")
        if backend is None:
            yield kinds
        elif req.service == "ec2":
            with self._ec2_view(backend, cfg, kinds):
                yield kinds
        else:
            with self._ssm_view(req, backend, cfg.delay(PARAMS), kinds):
                yield kinds

    @contextlib.contextmanager
    def _ec2_view(self, backend: Any, cfg: Consistency, kinds: set[str]) -> Iterator[None]:
        hidden = self.hidden_groups(cfg)
        swaps = self._stale_swaps(backend, cfg.delay(RULES)) if self.rules and cfg.delay(RULES) > 0 else []
        if not hidden and not swaps:
            yield
            return
        VIEW.active, VIEW.hidden, VIEW.stale, VIEW.kinds = True, hidden, {g.id for g, _, _ in swaps}, kinds
        try:
            yield
        finally:
            for group, ingress, egress in swaps:
                group.ingress_rules, group.egress_rules = ingress, egress
            VIEW.active, VIEW.hidden, VIEW.stale, VIEW.kinds = False, set(), set(), set()

    def _stale_swaps(self, backend: Any, delay: float) -> list[tuple[Any, list[Any], list[Any]]]:
        """Puts the rule sets of `delay` ago on the groups changed since; returns
        (group, live ingress, live egress) to put back."""
        now = self.now()
        cutoff, swaps = now - delay, []
        for gid in list(self.rules):
            self._prune_history(gid, now)
            history = self.rules.get(gid)
            if not history or history[-1][0] <= cutoff:
                continue
            group = _find_group(backend, gid)
            if group is None:
                continue
            _, ingress, egress = [entry for entry in history if entry[0] <= cutoff][-1]
            swaps.append((group, group.ingress_rules, group.egress_rules))
            group.ingress_rules, group.egress_rules = list(ingress), list(egress)
        return swaps

    @contextlib.contextmanager
    def _ssm_view(self, req: Any, backend: Any, delay: float, kinds: set[str]) -> Iterator[None]:
        """Hides the versions put less than `delay` ago: a parameter with none left is taken
        out of moto's parameter dict for the call (the dict's order kept), others lose
        their newest versions for the call."""
        params = backend._parameters
        changed = self._ssm_changes(params, backend, self.now() - delay)
        order = list(dict.items(params)) if any(not visible for _, _, visible in changed) else None
        full = [list(versions) for _, versions, _ in changed]
        for name, versions, visible in changed:
            if visible:
                versions[:] = visible
            else:
                dict.pop(params, name)
        if any(_ssm_in_scope(req, name, params) for name, _, _ in changed):
            kinds.add(PARAMETER_HIDDEN)
        try:
            yield
        finally:
            for (_, versions, _), live in zip(changed, full):
                versions[:] = live
            if order is not None:
                dict.clear(params)
                dict.update(params, order)

    def _ssm_changes(self, params: Any, backend: Any, cutoff: float) -> list[tuple[str, list[Any], list[Any]]]:
        """(name, live version list, the versions visible at `cutoff`) where they differ."""
        out = []
        for (acct, region, name), puts in self.puts.items():
            if (acct, region) != (backend.account_id, backend.region_name):
                continue
            recent = {version for t, version in puts if t > cutoff}
            versions = dict.get(params, name)
            if not recent or not versions:
                continue
            visible = [p for p in versions if p.version not in recent]
            if len(visible) != len(versions):
                out.append((name, versions, visible))
        return out


def _ssm_in_scope(req: Any, name: str, params: Any) -> bool:
    """Whether the SSM read would have answered about parameter `name` (its version)."""
    try:
        doc = json.loads(req.body or b"{}")
    except ValueError:
        return False
    norm = params.normalize_name
    if req.operation == "GetParameter":
        return norm(str(doc.get("Name", "")).split(":")[0]) == name
    if req.operation == "GetParameters":
        return any(norm(str(n).split(":")[0]) == name for n in doc.get("Names") or [])
    if req.operation == "GetParametersByPath":
        path = str(doc.get("Path", "/")).rstrip("/") + "/"
        full = name if name.startswith("/") else "/" + name
        if path != "/" and not full.startswith(path):
            return False
        return bool(doc.get("Recursive")) or "/" not in full[len(path):]
    return True  # DescribeParameters: every parameter is in its scope (filters aside)


# ---------------------------------------------------------------------------
# describe wrappers (over moto_patches' versions): leave out the hidden groups
# ---------------------------------------------------------------------------


def _describe_groups(inner: Any) -> Any:
    def describe_security_groups(self: Any, group_ids: Any = None, groupnames: Any = None, filters: Any = None) -> Any:
        groups = inner(self, group_ids, groupnames, filters)
        if not VIEW.active:
            return groups
        kept = [g for g in groups if g.id not in VIEW.hidden]
        if len(kept) < len(groups):
            VIEW.kinds.add(GROUP_OMITTED)
            if groupnames:  # named (default VPC): as moto answers a name it does not know
                from moto.ec2.exceptions import InvalidSecurityGroupNotFoundError

                raise InvalidSecurityGroupNotFoundError(next(g.name for g in groups if g.id in VIEW.hidden))
        if any(g.id in VIEW.stale for g in kept):
            VIEW.kinds.add(RULES_STALE)
        return kept

    describe_security_groups.__wrapped__ = inner  # type: ignore[attr-defined]
    return describe_security_groups


def _describe_rules(inner: Any) -> Any:
    def describe_security_group_rules(self: Any, sg_rule_ids: Any = None, filters: Any = None) -> Any:
        rules = inner(self, sg_rule_ids, filters)
        if not VIEW.active:
            return rules
        kept = [r for r in rules if r.group_id not in VIEW.hidden]
        if len(kept) < len(rules):
            VIEW.kinds.add(GROUP_OMITTED)
            if sg_rule_ids:
                from moto.ec2.exceptions import InvalidSecurityGroupRuleIdNotFoundError

                raise InvalidSecurityGroupRuleIdNotFoundError(next(r.id for r in rules if r.group_id in VIEW.hidden))
        named = set((filters or {}).get("group-id") or [])
        if any(r.group_id in VIEW.stale for r in kept) or named & VIEW.stale:
            VIEW.kinds.add(RULES_STALE)
        return kept

    describe_security_group_rules.__wrapped__ = inner  # type: ignore[attr-defined]
    return describe_security_group_rules


_APPLIED = False


def apply() -> None:
    """Wraps the backend describes (after moto_patches.apply()); idempotent."""
    global _APPLIED
    if _APPLIED:
        return
    from moto.ec2.models.security_groups import SecurityGroupBackend

    SecurityGroupBackend.describe_security_groups = _describe_groups(  # type: ignore[method-assign]
        SecurityGroupBackend.describe_security_groups)
    SecurityGroupBackend.describe_security_group_rules = _describe_rules(  # type: ignore[method-assign]
        SecurityGroupBackend.describe_security_group_rules)
    _APPLIED = True
