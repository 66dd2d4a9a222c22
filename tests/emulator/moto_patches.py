"""In-process fixes to moto 5.2.5's EC2 security-group model, applied by sg_emulator.

Each patch brings moto closer to what real EC2 answers, for the parts a
security-group controller depends on.  They are class-level monkeypatches, so
they survive a moto reset.  `apply()` is idempotent.

What is patched (checked against moto 5.2.5 with boto3, see README.md):

1. Rule identity.  moto compares a group-reference rule's whole UserIdGroupPair
   dict, Description included, so
   - authorizing the same group reference with another description creates a
     second rule instead of answering InvalidPermission.Duplicate, and
   - revoking a described group-reference rule without repeating its
     description answers InvalidPermission.NotFound.
   EC2 identifies a rule by protocol, ports and peer only (never the description).
2. Descriptions of prefix-list and group-reference rules.  moto drops a
   PrefixListId's Description, and DescribeSecurityGroupRules leaves out the
   Description of group-reference and prefix-list rules.
3. UpdateSecurityGroupRuleDescriptions{Ingress,Egress}: moto cannot match
   group-reference rules (see 1), ignores prefix lists, ignores
   SecurityGroupRuleDescriptions (update by rule id), and never removes a
   description.  EC2 removes the description when the request omits it.
4. Authorize{Ingress,Egress} with several IpPermissions: moto's response lists
   only the rules of the last IpPermission, and a failure (e.g. a duplicate in the
   second IpPermission) leaves the rules of the earlier ones in place.  EC2 is
   all-or-nothing and returns every rule it created.
5. Revoke{Ingress,Egress} with several IpPermissions: moto removes the matches of
   the earlier IpPermissions before failing InvalidPermission.NotFound on a later
   one.  EC2 (non-default VPC) revokes nothing then.  The response also gets
   RevokedSecurityGroupRules, as EC2 sends.
6. ModifySecurityGroupRules: moto only handles CidrIpv4 (TODO in moto for
   CidrIpv6 / PrefixListId / ReferencedGroupId), and wrote descriptions of
   non-CIDR rules into a fake ip range.
7. IpProtocol: moto needs ports for every protocol but -1 (HTTP 500 on e.g.
   "50" without ports, or tcp without ports).  EC2 ignores ports for -1 and for
   protocol numbers other than tcp/udp/icmp/icmpv6, makes them optional for
   icmpv6, and answers InvalidParameterValue when tcp/udp/icmp lack them.
8. Dual-stack VPCs: moto adds the ::/0 default egress rule when a VPC has an
   IPv6 block, but also when that block was disassociated.  And revoking an
   IPv6 egress rule in a VPC without IPv6 silently kept the rule.
9. Rules quota: moto has a fixed 60 that counts neither prefix lists nor the
   IPv4/IPv6 split.  EC2 counts per direction and per address family (see
   `RULES_QUOTA`); sg_emulator sets the limit from its control API.
10. DescribeSecurityGroups filters ip-permission.ipv6-cidr / prefix-list-id (and
   their egress. forms) raised NotImplementedError in moto (HTTP 500).
11. Cost: moto looked up a resource's tags by scanning every tag in the region
   (O(N^2) for a tag-filtered DescribeSecurityGroups over N groups), ran every
   filter on every group, and copied every rule of every group for a group-id
   filtered DescribeSecurityGroupRules.  Same answers, without the scans.
12. DescribeSecurityGroups pagination: moto ignores MaxResults and NextToken and
   always answers every group.  EC2 returns at most MaxResults groups (5 to 1,000,
   else InvalidParameterValue) and a NextToken for the rest; without MaxResults,
   every group in one answer (API reference, DescribeSecurityGroups, MaxResults).
"""

from __future__ import annotations

import copy
import inspect
import itertools
import re
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import aws_api_matches
from moto.ec2.exceptions import (
    InvalidGroupIdMalformedError,
    InvalidParameterValue,
    InvalidPermissionNotFoundError,
    InvalidSecurityGroupNotFoundError,
    InvalidSecurityGroupRuleIdNotFoundError,
    RulesPerSecurityGroupLimitExceededError,
)
from moto.ec2.models.security_groups import (
    GroupedSecurityRuleView,
    SecurityGroup,
    SecurityGroupBackend,
    SecurityGroupRule,
)
from moto import backends as moto_backends
from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.models.tags import TagBackend
from moto.ec2.responses.security_groups import SecurityGroups
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix, is_valid_security_group_id, simple_aws_filter_to_re

_APPLIED = False


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _peer_dict(rule: SecurityGroupRule) -> dict[str, Any]:
    """The dict that carries this rule's peer (and so its Description)."""
    if rule.ip_range.get("CidrIp") or rule.ip_range.get("CidrIpv6"):
        return rule.ip_range
    if rule.source_group:
        return rule.source_group
    if getattr(rule, "prefix_list", None):
        return rule.prefix_list
    return rule.ip_range


def _rule_key(rule: SecurityGroupRule) -> tuple[Any, ...]:
    proto = rule.ip_protocol
    if proto == "-1":
        ports: tuple[Any, Any] = (None, None)
    else:
        ports = (
            None if rule.from_port is None else int(rule.from_port),
            None if rule.to_port is None else int(rule.to_port),
        )
    sg = rule.source_group or {}
    return (
        proto,
        ports,
        rule.ip_range.get("CidrIp"),
        rule.ip_range.get("CidrIpv6"),
        sg.get("GroupId") or sg.get("GroupName"),
        rule.prefix_list_id,
    )


def _revoked_view(rule: SecurityGroupRule) -> dict[str, Any]:
    out: dict[str, Any] = {
        "SecurityGroupRuleId": rule.id,
        "GroupId": rule.group_id,
        "IsEgress": rule.is_egress,
        "IpProtocol": rule.ip_protocol,
        "FromPort": -1 if rule.from_port is None else int(rule.from_port),
        "ToPort": -1 if rule.to_port is None else int(rule.to_port),
    }
    if rule.ip_range.get("CidrIp"):
        out["CidrIpv4"] = rule.ip_range["CidrIp"]
    if rule.ip_range.get("CidrIpv6"):
        out["CidrIpv6"] = rule.ip_range["CidrIpv6"]
    if rule.prefix_list_id:
        out["PrefixListId"] = rule.prefix_list_id
    if rule.source_group.get("GroupId"):
        out["ReferencedGroupId"] = rule.source_group["GroupId"]
    if rule.description is not None:
        out["Description"] = rule.description
    return out


# --------------------------------------------------------------------------
# 7: IpProtocol and ports, as EC2 reads them (API_IpPermission.html)
# --------------------------------------------------------------------------

_PROTOCOL_NAMES = {
    "tcp": "tcp", "6": "tcp",
    "udp": "udp", "17": "udp",
    "icmp": "icmp", "1": "icmp",
    "icmpv6": "icmpv6", "58": "icmpv6",
    "-1": "-1", "all": "-1",
}
_PORTED_PROTOCOLS = ("tcp", "udp", "icmp", "icmpv6")


def _canonical_protocol(value: Any) -> str:
    """tcp/udp/icmp/icmpv6 by name, -1, or the protocol number (AWS reports "50")."""
    text = "" if value is None else str(value).strip().lower()
    if not text:
        raise InvalidParameterValue(
            "Invalid value 'null' for protocol. VPC security group rules must specify protocols explicitly."
        )
    if text in _PROTOCOL_NAMES:
        return _PROTOCOL_NAMES[text]
    if text.isdigit() and int(text) <= 255:
        return str(int(text))
    raise InvalidParameterValue(f"Invalid value '{value}' for IP protocol. Unknown protocol.")


def _canonical_traffic(protocol: Any, from_port: Any, to_port: Any) -> tuple[str, int | None, int | None]:
    """EC2: -1 and protocol numbers other than tcp/udp/icmp/icmpv6 allow all ports,
    whatever ports are given; tcp/udp/icmp need a port range; icmpv6 without one
    allows all types and codes."""
    proto = _canonical_protocol(protocol)
    if proto not in _PORTED_PROTOCOLS:
        return proto, None, None
    if from_port is None and to_port is None and proto == "icmpv6":
        return proto, -1, -1
    if from_port is None or to_port is None:
        what = "ICMP type and code" if proto == "icmp" else "from and to ports with TCP/UDP"
        raise InvalidParameterValue(f"Invalid value for portRange. Must specify both {what}.")
    return proto, int(from_port), int(to_port)


# --------------------------------------------------------------------------
# 1 + 2: SecurityGroupRule identity and descriptions
# --------------------------------------------------------------------------

_orig_rule_init = SecurityGroupRule.__init__
_rule_sig = inspect.signature(_orig_rule_init)


def _rule_init(self: SecurityGroupRule, *args: Any, **kwargs: Any) -> None:
    bound = _rule_sig.bind(self, *args, **kwargs)
    arg = bound.arguments
    proto, arg["from_port"], arg["to_port"] = _canonical_traffic(
        arg.get("ip_protocol"), arg.get("from_port"), arg.get("to_port")
    )
    # moto knows port-less rules only as "-1": build as that, then set the number
    arg["ip_protocol"] = proto if proto in _PORTED_PROTOCOLS else "-1"
    _orig_rule_init(*bound.args, **bound.kwargs)
    self.ip_protocol = proto
    pl = arg.get("prefix_list_id")
    # keep the whole PrefixListId entry (moto keeps only the id string)
    self.prefix_list = dict(pl) if isinstance(pl, dict) else {}


def _rule_eq(self: SecurityGroupRule, other: object) -> bool:
    if not isinstance(other, SecurityGroupRule):
        return NotImplemented
    return _rule_key(self) == _rule_key(other)


def _rule_description(self: SecurityGroupRule) -> str | None:
    return _peer_dict(self).get("Description")


# --------------------------------------------------------------------------
# 2: grouped view (DescribeSecurityGroups IpPermissions) keeps prefix-list descriptions
# --------------------------------------------------------------------------


def _flattened_rules(
    self: SecurityGroup, rules: list[SecurityGroupRule]
) -> list[GroupedSecurityRuleView]:
    views: list[GroupedSecurityRuleView] = []
    for rule in rules:
        view = next(
            (
                v
                for v in views
                if v.from_port == rule.from_port
                and v.to_port == rule.to_port
                and v.ip_protocol == rule.ip_protocol
            ),
            None,
        )
        if view is None:
            view = GroupedSecurityRuleView(rule.from_port, rule.to_port, rule.ip_protocol)
            views.append(view)
        if rule.ip_range.get("CidrIp") or rule.ip_range.get("CidrIpv6"):
            view.all_ip_ranges.append(rule.ip_range)
        if rule.source_group:
            view.source_groups.append(rule.source_group)
        if rule.prefix_list_id:
            entry = {"PrefixListId": rule.prefix_list_id}
            desc = getattr(rule, "prefix_list", {}).get("Description")
            if desc is not None:
                entry["Description"] = desc
            view.prefix_list_ids.append(entry)
    return views


# --------------------------------------------------------------------------
# 3: description updates
# --------------------------------------------------------------------------


def _sg_update_description(
    self: SecurityGroupBackend, security_rule: SecurityGroupRule, rule: SecurityGroupRule
) -> None:
    # EC2: "You can remove a description for a security group rule by omitting
    # the description parameter in the request."
    desc = _peer_dict(security_rule).get("Description")
    target = _peer_dict(rule)
    if desc is None:
        target.pop("Description", None)
    else:
        target["Description"] = desc


def _update_descriptions(self: SecurityGroups, is_egress: bool) -> EmptyResult:
    self.error_on_dryrun()
    backend = self.ec2_backend
    by_id = self._get_param("SecurityGroupRuleDescriptions", [])
    if by_id:
        group_name_or_id = self._get_param("GroupName") or self._get_param("GroupId")
        group = backend.get_security_group_by_name_or_id(group_name_or_id)
        if group is None:
            raise InvalidSecurityGroupNotFoundError(group_name_or_id)
        rules = group.egress_rules if is_egress else group.ingress_rules
        for entry in by_id:
            rule_id = entry.get("SecurityGroupRuleId")
            rule = next((r for r in rules if r.id == rule_id), None)
            if rule is None:
                raise InvalidSecurityGroupRuleIdNotFoundError(rule_id)
            target = _peer_dict(rule)
            if entry.get("Description") is None:
                target.pop("Description", None)
            else:
                target["Description"] = entry["Description"]
    if "IpPermissions" in self._get_params():
        method = (
            backend.update_security_group_rule_descriptions_egress
            if is_egress
            else backend.update_security_group_rule_descriptions_ingress
        )
        for args in self._process_rules_from_querystring():
            del args["sgrule_tags"]
            method(**args)
    return EmptyResult()


# --------------------------------------------------------------------------
# 4 + 5: atomic authorize / revoke
# --------------------------------------------------------------------------


def _target_group(self: SecurityGroups) -> SecurityGroup:
    group_name_or_id = self._get_param("GroupName") or self._get_param("GroupId")
    group = self.ec2_backend.get_security_group_by_name_or_id(group_name_or_id)
    if group is None:
        raise InvalidSecurityGroupNotFoundError(group_name_or_id)
    return group


def _rules_attr(is_egress: bool) -> str:
    return "egress_rules" if is_egress else "ingress_rules"


def _authorize(self: SecurityGroups, is_egress: bool) -> ActionResult:
    self.error_on_dryrun()
    group = _target_group(self)
    attr = _rules_attr(is_egress)
    method = (
        self.ec2_backend.authorize_security_group_egress
        if is_egress
        else self.ec2_backend.authorize_security_group_ingress
    )
    before = list(getattr(group, attr))
    try:
        for kwargs in self._process_rules_from_querystring():
            method(**kwargs)
        _check_rules_quota(self.ec2_backend, before, getattr(group, attr))
    except Exception:
        setattr(group, attr, before)
        raise
    # (the same rule twice in one request already fails Duplicate in moto's
    # backend, and the rollback above then leaves the group unchanged)
    before_ids = {id(r) for r in before}
    added = [r for r in getattr(group, attr) if id(r) not in before_ids]
    return ActionResult({"Return": True, "SecurityGroupRules": added})


def _revoke(self: SecurityGroups, is_egress: bool) -> ActionResult:
    self.error_on_dryrun()
    group = _target_group(self)
    attr = _rules_attr(is_egress)
    before = list(getattr(group, attr))
    try:
        for args in self._process_rules_from_querystring():
            _revoke_matches(self.ec2_backend, group, is_egress, args)
    except Exception:
        setattr(group, attr, before)
        raise
    after_ids = {id(r) for r in getattr(group, attr)}
    revoked = [_revoked_view(r) for r in before if id(r) not in after_ids]
    return ActionResult({"Return": True, "RevokedSecurityGroupRules": revoked})


def _revoke_matches(backend: Any, group: SecurityGroup, is_egress: bool, args: dict[str, Any]) -> None:
    """Removes the rules one IpPermission (or the rule ids) names; NotFound if one is missing.

    Replaces moto's backend revoke, which dropped IPv6 ranges from the request
    when the group's VPC has no IPv6 block, so such a rule could not be revoked."""
    attr = _rules_attr(is_egress)
    rules = getattr(group, attr)
    if args.get("security_rule_ids"):
        targets = [_find_rule(rules, lambda r: r.id == rule_id) for rule_id in args["security_rule_ids"]]
    else:
        targets = [_find_rule(rules, lambda r: r == wanted) for wanted in _named_rules(backend, group, is_egress, args)]
    setattr(group, attr, [r for r in rules if not any(r is t for t in targets)])


def _named_rules(backend: Any, group: SecurityGroup, is_egress: bool, args: dict[str, Any]) -> list[SecurityGroupRule]:
    sources = backend._add_source_group(args.get("source_groups"), None)
    return list(
        backend._iterate_security_rules(
            args["ip_protocol"], group.group_id, args["from_port"], args["to_port"],
            args.get("ip_ranges") or [], sources, args.get("prefix_list_ids") or [],
            is_egress=is_egress,
        )
    )


def _find_rule(rules: list[SecurityGroupRule], pred: Any) -> SecurityGroupRule:
    rule = next((r for r in rules if pred(r)), None)
    if rule is None:
        raise InvalidPermissionNotFoundError()
    return rule


# --------------------------------------------------------------------------
# 9: the rules quota ("Inbound or outbound rules per security group")
# --------------------------------------------------------------------------


class RulesQuota:
    """The account's quota of inbound (and, separately, outbound) rules per group.

    Amazon VPC quotas: 60 by default, enforced separately for inbound and
    outbound rules and separately for IPv4 and IPv6 rules.  sg_emulator sets
    `limit` before each request (the control API's quotas.rules_per_security_group)."""

    limit = 60


RULES_QUOTA = RulesQuota()


def _prefix_list_size(backend: Any, prefix_list_id: str) -> int:
    pl = getattr(backend, "managed_prefix_lists", {}).get(prefix_list_id)
    try:
        return max(1, int(pl.max_entries))  # type: ignore[union-attr]
    except (AttributeError, TypeError, ValueError):
        return 1  # unknown list, or an AWS-managed one (moto has no weights)


def _rule_weight(backend: Any, rule: SecurityGroupRule) -> tuple[int, int]:
    """(IPv4, IPv6) rules this rule counts as: a CIDR one of its family; a group
    reference one of each; a prefix list its maximum size, of each."""
    if rule.ip_range.get("CidrIp"):
        return 1, 0
    if rule.ip_range.get("CidrIpv6"):
        return 0, 1
    if rule.prefix_list_id:
        size = _prefix_list_size(backend, rule.prefix_list_id)
        return size, size
    return 1, 1


def _rules_usage(backend: Any, rules: list[SecurityGroupRule]) -> tuple[int, int]:
    weights = [_rule_weight(backend, r) for r in rules]
    return sum(w[0] for w in weights), sum(w[1] for w in weights)


def _check_rules_quota(backend: Any, before: list[SecurityGroupRule], after: list[SecurityGroupRule]) -> None:
    """RulesPerSecurityGroupLimitExceeded when an address family grew past the quota."""
    limit = RULES_QUOTA.limit
    old, new = _rules_usage(backend, before), _rules_usage(backend, after)
    if any(n > limit and n > o for o, n in zip(old, new)):
        raise RulesPerSecurityGroupLimitExceededError()


def _no_moto_rule_limit(self: SecurityGroupBackend, *args: Any, **kwargs: Any) -> None:
    """moto's own fixed check (60, prefix lists not counted); _check_rules_quota replaces it."""


# --------------------------------------------------------------------------
# 6: ModifySecurityGroupRules for every peer kind
# --------------------------------------------------------------------------


def _modify_security_group_rules(
    self: SecurityGroupBackend, group_id: str, rules: dict[str, dict[str, Any]]
) -> None:
    from moto.ec2.exceptions import InvalidParameterCombination, MissingParameter

    group = self.get_security_group_by_name_or_id(group_id)
    if group is None:
        raise InvalidSecurityGroupNotFoundError(group_id)

    # validate everything first: all-or-nothing
    plan = []
    for rule_id, new_rule in rules.items():
        peers = {
            k: new_rule.get(k)
            for k in ("CidrIpv4", "CidrIpv6", "PrefixListId", "ReferencedGroupId")
            if new_rule.get(k) is not None
        }
        if len(peers) > 1:
            raise InvalidParameterCombination(
                "Only one of cidrIp, cidrIpv6, prefixListId, or referencedGroupId can be specified"
            )
        if not peers:
            raise MissingParameter(
                "The request must contain exactly one of: cidrIp, cidrIpv6, prefixListId, or referencedGroupId"
            )
        existing = group.get_rule(rule_id)
        if existing is None:
            raise InvalidSecurityGroupRuleIdNotFoundError(rule_id)
        traffic = _canonical_traffic(
            new_rule.get("IpProtocol"), new_rule.get("FromPort"), new_rule.get("ToPort")
        )
        if "ReferencedGroupId" in peers and not self.get_security_group_from_id(
            peers["ReferencedGroupId"]
        ):
            raise InvalidSecurityGroupNotFoundError(peers["ReferencedGroupId"])
        plan.append((existing, new_rule, peers, traffic))

    for existing, new_rule, peers, traffic in plan:
        old_desc = existing.description
        existing.ip_protocol, existing.from_port, existing.to_port = traffic
        existing.ip_range = {}
        existing.source_group = {}
        existing.prefix_list = {}
        existing.prefix_list_id = None
        if "CidrIpv4" in peers:
            existing.ip_range = {"CidrIp": peers["CidrIpv4"]}
        elif "CidrIpv6" in peers:
            existing.ip_range = {"CidrIpv6": peers["CidrIpv6"]}
        elif "PrefixListId" in peers:
            existing.prefix_list_id = peers["PrefixListId"]
            existing.prefix_list = {"PrefixListId": peers["PrefixListId"]}
        else:
            existing.source_group = {
                "GroupId": peers["ReferencedGroupId"],
                "UserId": self.account_id,  # type: ignore[attr-defined]
                "OwnerId": self.account_id,  # type: ignore[attr-defined]
            }
        desc = new_rule.get("Description", old_desc)
        if desc is not None:
            _peer_dict(existing)["Description"] = desc


# --------------------------------------------------------------------------
# 8: the ::/0 default egress rule only while the VPC has an IPv6 block
# --------------------------------------------------------------------------

_orig_group_init = SecurityGroup.__init__


def _vpc_has_ipv6(backend: Any, vpc_id: str | None) -> bool:
    """An IPv6 block associated (moto keeps disassociated ones, state "disassociated")."""
    vpc = backend.vpcs.get(vpc_id) if vpc_id else None
    if vpc is None:
        return False
    states = [c["cidr_block_state"]["state"] for c in vpc.get_cidr_block_association_set(ipv6=True)]
    return any(state in ("associating", "associated") for state in states)


def _group_init(self: SecurityGroup, *args: Any, **kwargs: Any) -> None:
    _orig_group_init(self, *args, **kwargs)
    if not _vpc_has_ipv6(self.ec2_backend, self.vpc_id):
        self.egress_rules = [r for r in self.egress_rules if r.ip_range.get("CidrIpv6") != "::/0"]


# --------------------------------------------------------------------------
# 10: DescribeSecurityGroups filters on IPv6 CIDRs and prefix lists
# --------------------------------------------------------------------------


def _any_rule_matches(rules: list[SecurityGroupRule], values: list[str], peer: Any) -> bool:
    return any(peer(r) and aws_api_matches(v, peer(r)) for r in rules for v in values)


def _ipv6_peer(rule: SecurityGroupRule) -> str | None:
    return rule.ip_range.get("CidrIpv6")


def _prefix_list_peer(rule: SecurityGroupRule) -> str | None:
    return rule.prefix_list_id


_GROUP_FILTERS = {
    "filter_ip_permission__ipv6_cidr": ("ingress_rules", _ipv6_peer),
    "filter_ip_permission__prefix_list_id": ("ingress_rules", _prefix_list_peer),
    "filter_egress__ip_permission__ipv6_cidr": ("egress_rules", _ipv6_peer),
    "filter_egress__ip_permission__prefix_list_id": ("egress_rules", _prefix_list_peer),
}


def _rule_filter(attr: str, peer: Any) -> Any:
    def matches(self: SecurityGroup, values: list[str]) -> bool:
        return _any_rule_matches(getattr(self, attr), values, peer)

    return matches


# --------------------------------------------------------------------------
# 11: filtered describes cost what the matching groups cost
# --------------------------------------------------------------------------

_FNMATCH_SPECIALS = frozenset("*?[")


def _get_tags(self: TaggedEC2Resource) -> list[dict[str, str]]:
    """moto's get_tags, by a dict lookup instead of a scan of every tag in the region.

    moto ran describe_tags(resource-id=<id>) (fnmatch-anchored, so exactly this id),
    which walks all tags of all resources: O(all tags) per resource, and so O(N^2)
    for a describe that filters on or renders the tags of N groups."""
    rid = self.id  # type: ignore[attr-defined]
    if not rid:
        return []
    tags = getattr(self.ec2_backend, "tags", None)  # type: ignore[attr-defined]
    if not isinstance(rid, str) or not isinstance(tags, dict) or _FNMATCH_SPECIALS & set(rid):
        return _orig_get_tags(self)
    own = tags.get(rid)  # .get: never adds an entry to moto's defaultdict
    if not own:
        return []
    rtype = EC2_PREFIX_TO_RESOURCE.get(get_prefix(rid), "")
    return [{"resource_id": rid, "key": k, "value": v, "resource_type": rtype} for k, v in own.items()]


_REGEX_SPECIALS = frozenset(".^$*+?{}[]\\|()")


def _api_pattern(pattern: str) -> Any:
    """aws_api_matches(pattern, s) is `_api_pattern(pattern).match(str(s))`, compiled once."""
    pattern, _ = re.subn(r"(?<!\\)\*", r".*", pattern)
    pattern, _ = re.subn(r"(?<!\\)\?", r".?", pattern)
    return re.compile(f"^{pattern}$")


def _api_literals(values: list[str]) -> set[str] | None:
    """The strings aws_api_matches accepts for `values` when none holds a regex or glob
    character (its `^v$` also accepts v plus a final newline), else None."""
    if any(_REGEX_SPECIALS & set(v) for v in values):
        return None
    return set(values) | {v + "\n" for v in values}


def _attr_predicate(attr: str, values: list[str]) -> Any:
    """What moto's filter_group_id / filter_group_name / filter_vpc_id decide."""
    exact = _api_literals(values)
    if exact is not None:
        return lambda obj: str(getattr(obj, attr)) in exact
    regexes = [_api_pattern(v) for v in values]
    return lambda obj: any(r.match(str(getattr(obj, attr))) for r in regexes)


def _tag_predicate(backend: Any, key: str, values: list[str]) -> Any:  # function or id set
    """What moto's tag_filter_matches decides for tag:KEY: fnmatch patterns (anchored;
    a value without *, ? or [ matches itself only), or equal."""
    regexes = [re.compile(simple_aws_filter_to_re(v)) for v in values if _FNMATCH_SPECIALS & set(v)]
    if not regexes:  # the ids of the resources so tagged, from the index
        index = _tag_index(backend)
        return set().union(*(index.get((key, v), ()) for v in values))
    exact = set(values)
    tags = backend.tags

    def matches(grp: SecurityGroup) -> bool:
        value = tags.get(grp.id, {}).get(key)
        if value is None:
            return False
        return value in exact or any(r.match(value) for r in regexes)

    return matches


def _tag_index(backend: Any) -> dict[tuple[str, str], set[str]]:
    """(key, value) -> ids of the resources with that tag, built from backend.tags on first
    use and kept by create_tags / delete_tags / delete_tag_keys, the only writers of
    backend.tags in moto's EC2 (a moto reset makes new backends, and so a new index)."""
    index = backend.__dict__.get("_sg_tag_index")
    if index is None:
        index = {}
        for rid, own in list(backend.tags.items()):
            for k, v in own.items():
                index.setdefault((k, v), set()).add(rid)
        backend._sg_tag_index = index
    return index


def _indexed(orig: Any) -> Any:
    """A TagBackend writer that keeps _tag_index (when built) in step with backend.tags."""

    def write(self: Any, resource_ids: list[str], *args: Any, **kwargs: Any) -> Any:
        index = self.__dict__.get("_sg_tag_index")
        if index is None:
            return orig(self, resource_ids, *args, **kwargs)
        before = {rid: dict(self.tags.get(rid, {})) for rid in resource_ids}
        try:
            return orig(self, resource_ids, *args, **kwargs)
        finally:
            for rid, old in before.items():
                for k, v in old.items():
                    index.get((k, v), set()).discard(rid)
                for k, v in self.tags.get(rid, {}).items():
                    index.setdefault((k, v), set()).add(rid)

    write.__wrapped__ = orig  # type: ignore[attr-defined]
    return write


def _cached_moto_modules() -> tuple[str, ...]:
    """moto.backends.list_of_moto_modules, listed once: moto's server ran a listdir and
    ~180 stat calls of its own package on every request."""
    global _MOTO_MODULES
    if _MOTO_MODULES is None:
        _MOTO_MODULES = tuple(_orig_list_of_moto_modules())
    return _MOTO_MODULES


_MOTO_MODULES: tuple[str, ...] | None = None


_CHEAP_GROUP_FILTERS = {"group-id": "id", "group-name": "group_name", "vpc-id": "vpc_id"}


def _cheap_predicates(backend: Any, filters: dict[str, Any]) -> list[Any]:
    """Predicates equal to some of `filters` that skip moto's per-group work: a
    function of a group, or the set of ids of the groups (and other resources) it holds."""
    preds = []
    for key, values in filters.items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            continue
        try:
            if key.startswith("tag:"):
                preds.append(_tag_predicate(backend, key[4:], values))
            elif key in _CHEAP_GROUP_FILTERS:
                preds.append(_attr_predicate(_CHEAP_GROUP_FILTERS[key], values))
        except re.error:
            continue  # moto's own filter then fails as it did
    return preds


def _describe_security_groups(
    self: SecurityGroupBackend,
    group_ids: list[str] | None = None,
    groupnames: list[str] | None = None,
    filters: Any = None,
) -> list[SecurityGroup]:
    """moto's describe_security_groups, with tag / group-id / group-name / vpc-id filters
    first applied by cheap predicates; moto's filters then run on the remaining groups
    only (same groups, same order, same errors)."""
    matches = [grp for vpc_groups in list(self.groups.values()) for grp in list(vpc_groups.values())]
    if group_ids:
        matches = [grp for grp in matches if grp.id in group_ids]
        if len(group_ids) > len(matches):
            raise InvalidSecurityGroupNotFoundError(set(group_ids) - set(matches))  # as moto
    if groupnames:
        matches = [grp for grp in matches if grp.name in groupnames]
        if len(groupnames) > len(matches):
            raise InvalidSecurityGroupNotFoundError(set(groupnames) - set(matches))  # as moto
    if filters:
        # an unknown filter fails (HTTP 500) on the first group moto tries it on: only
        # narrow the groups first when every filter is one moto knows
        known = all(key.startswith(("tag:", "tag-key", "tag-value")) or key in grp.filters
                    for grp in matches[:1] for key in filters)
        for pred in _cheap_predicates(self, filters) if known else []:
            if isinstance(pred, set):  # candidate ids
                matches = [grp for grp in matches if grp.id in pred]
            else:
                matches = [grp for grp in matches if pred(grp)]
        matches = [grp for grp in matches if grp.matches_filters(filters)]
    return matches


def _describe_security_group_rules(
    self: SecurityGroupBackend, sg_rule_ids: list[str], filters: dict[str, list[str]]
) -> list[SecurityGroupRule]:
    """moto's describe_security_group_rules copies every rule of every group before
    filtering; with a group-id filter (and no rule ids, whose existence moto checks
    against all rules) only the rules of matching groups are copied."""
    group_ids = filters.get("group-id") if filters else None
    if sg_rule_ids or not isinstance(group_ids, list) or not group_ids:
        return _orig_describe_rules(self, sg_rule_ids, filters)
    for group_id in group_ids:
        if not is_valid_security_group_id(group_id):
            raise InvalidGroupIdMalformedError(group_id)
    try:
        wanted = _attr_predicate("group_id", group_ids)
    except re.error:
        return _orig_describe_rules(self, sg_rule_ids, filters)
    exact = _api_literals(group_ids)
    rules = [
        copy.copy(rule)
        for vpc_groups in self.groups.values()
        for group in vpc_groups.values()
        for rule in itertools.chain(group.egress_rules, group.ingress_rules)
        if (rule.group_id in exact if exact is not None else wanted(rule))
    ]
    for rule in rules:
        rule.from_port = -1 if rule.from_port is None else rule.from_port
        rule.to_port = -1 if rule.to_port is None else rule.to_port
    return [rule for rule in rules if rule.matches_filters(filters)]


def _describe_groups_paged(self: SecurityGroups) -> ActionResult:
    """moto's DescribeSecurityGroups answer, cut to MaxResults groups from NextToken (the
    offset of the next group, as an opaque string)."""
    answer = _orig_describe_groups_response(self)
    limit, token = self._get_param("MaxResults"), self._get_param("NextToken")
    if limit is None and token is None:
        return answer
    if limit is not None and not 5 <= int(limit) <= 1000:
        raise InvalidParameterValue(f"Value ( {limit} ) for parameter maxResults is invalid. "
                                    "Expecting a value between 5 and 1000.")
    try:
        start = int(token or "0")
    except ValueError:
        raise InvalidParameterValue(f"Invalid value '{token}' for nextToken.") from None
    groups = answer.result["SecurityGroups"]
    end = start + int(limit or 1000)
    result: dict[str, Any] = {"SecurityGroups": groups[start:end]}
    if end < len(groups):
        result["NextToken"] = str(end)
    return ActionResult(result)


_orig_describe_groups_response = SecurityGroups.describe_security_groups
_orig_get_tags = TaggedEC2Resource.get_tags
_orig_list_of_moto_modules = moto_backends.list_of_moto_modules
_orig_describe_groups = SecurityGroupBackend.describe_security_groups
_orig_describe_rules = SecurityGroupBackend.describe_security_group_rules


# --------------------------------------------------------------------------


def apply() -> None:
    global _APPLIED
    if _APPLIED:
        return
    SecurityGroupRule.__init__ = _rule_init  # type: ignore[method-assign]
    SecurityGroupRule.__eq__ = _rule_eq  # type: ignore[method-assign,assignment]
    SecurityGroupRule.description = property(_rule_description)  # type: ignore[assignment,method-assign]
    SecurityGroup.__init__ = _group_init  # type: ignore[method-assign]
    for name, (attr, peer) in _GROUP_FILTERS.items():
        setattr(SecurityGroup, name, _rule_filter(attr, peer))
    SecurityGroupBackend._verify_group_will_respect_rule_count_limit = _no_moto_rule_limit  # type: ignore[method-assign]
    SecurityGroup._flattened_rules = _flattened_rules  # type: ignore[method-assign]
    SecurityGroupBackend._sg_update_description = _sg_update_description  # type: ignore[method-assign]
    SecurityGroupBackend.modify_security_group_rules = _modify_security_group_rules  # type: ignore[method-assign]
    TaggedEC2Resource.get_tags = _get_tags  # type: ignore[method-assign]
    for name in ("create_tags", "delete_tags", "delete_tag_keys"):
        setattr(TagBackend, name, _indexed(getattr(TagBackend, name)))
    moto_backends.list_of_moto_modules = _cached_moto_modules  # type: ignore[assignment]
    SecurityGroupBackend.describe_security_groups = _describe_security_groups  # type: ignore[method-assign]
    SecurityGroupBackend.describe_security_group_rules = _describe_security_group_rules  # type: ignore[method-assign]

    SecurityGroups.describe_security_groups = _describe_groups_paged  # type: ignore[method-assign]
    SecurityGroups.authorize_security_group_ingress = lambda self: _authorize(self, False)  # type: ignore[method-assign]
    SecurityGroups.authorize_security_group_egress = lambda self: _authorize(self, True)  # type: ignore[method-assign]
    SecurityGroups.revoke_security_group_ingress = lambda self: _revoke(self, False)  # type: ignore[method-assign]
    SecurityGroups.revoke_security_group_egress = lambda self: _revoke(self, True)  # type: ignore[method-assign]
    SecurityGroups.update_security_group_rule_descriptions_ingress = lambda self: _update_descriptions(self, False)  # type: ignore[method-assign]
    SecurityGroups.update_security_group_rule_descriptions_egress = lambda self: _update_descriptions(self, True)  # type: ignore[method-assign]
    _APPLIED = True


__all__ = ["RULES_QUOTA", "apply"]
