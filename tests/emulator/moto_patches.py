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
"""

from __future__ import annotations

import inspect
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.exceptions import (
    InvalidSecurityGroupNotFoundError,
    InvalidSecurityGroupRuleIdNotFoundError,
)
from moto.ec2.models.security_groups import (
    GroupedSecurityRuleView,
    SecurityGroup,
    SecurityGroupBackend,
    SecurityGroupRule,
)
from moto.ec2.responses.security_groups import SecurityGroups

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
# 1 + 2: SecurityGroupRule identity and descriptions
# --------------------------------------------------------------------------

_orig_rule_init = SecurityGroupRule.__init__
_rule_sig = inspect.signature(_orig_rule_init)


def _rule_init(self: SecurityGroupRule, *args: Any, **kwargs: Any) -> None:
    _orig_rule_init(self, *args, **kwargs)
    bound = _rule_sig.bind(self, *args, **kwargs)
    pl = bound.arguments.get("prefix_list_id")
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


def _authorize(self: SecurityGroups, is_egress: bool) -> ActionResult:
    self.error_on_dryrun()
    group = _target_group(self)
    attr = "egress_rules" if is_egress else "ingress_rules"
    method = (
        self.ec2_backend.authorize_security_group_egress
        if is_egress
        else self.ec2_backend.authorize_security_group_ingress
    )
    before = list(getattr(group, attr))
    try:
        for kwargs in self._process_rules_from_querystring():
            method(**kwargs)
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
    attr = "egress_rules" if is_egress else "ingress_rules"
    method = (
        self.ec2_backend.revoke_security_group_egress
        if is_egress
        else self.ec2_backend.revoke_security_group_ingress
    )
    before = list(getattr(group, attr))
    try:
        for args in self._process_rules_from_querystring():
            del args["sgrule_tags"]
            method(**args)
    except Exception:
        setattr(group, attr, before)
        raise
    after_ids = {id(r) for r in getattr(group, attr)}
    revoked = [_revoked_view(r) for r in before if id(r) not in after_ids]
    return ActionResult({"Return": True, "RevokedSecurityGroupRules": revoked})


# --------------------------------------------------------------------------
# 6: ModifySecurityGroupRules for every peer kind
# --------------------------------------------------------------------------


def _modify_security_group_rules(
    self: SecurityGroupBackend, group_id: str, rules: dict[str, dict[str, Any]]
) -> None:
    from moto.ec2.exceptions import (
        InvalidParameterCombination,
        InvalidParameterValue,
        MissingParameter,
    )

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
        ip_protocol = new_rule.get("IpProtocol")
        if ip_protocol is None:
            raise InvalidParameterValue(
                "Invalid value 'null' for protocol. VPC security group rules must specify protocols explicitly."
            )
        if "ReferencedGroupId" in peers and not self.get_security_group_from_id(
            peers["ReferencedGroupId"]
        ):
            raise InvalidSecurityGroupNotFoundError(peers["ReferencedGroupId"])
        plan.append((existing, new_rule, peers))

    for existing, new_rule, peers in plan:
        old_desc = existing.description
        proto = str(new_rule["IpProtocol"]).lower()
        proto = {"6": "tcp", "17": "udp", "1": "icmp", "all": "-1"}.get(proto, proto)
        existing.ip_protocol = proto
        if proto == "-1":
            existing.from_port = existing.to_port = None
        else:
            fp, tp = new_rule.get("FromPort"), new_rule.get("ToPort")
            existing.from_port = None if fp is None else int(fp)
            existing.to_port = None if tp is None else int(tp)
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


def apply() -> None:
    global _APPLIED
    if _APPLIED:
        return
    SecurityGroupRule.__init__ = _rule_init  # type: ignore[method-assign]
    SecurityGroupRule.__eq__ = _rule_eq  # type: ignore[method-assign,assignment]
    SecurityGroupRule.description = property(_rule_description)  # type: ignore[assignment,method-assign]
    SecurityGroup._flattened_rules = _flattened_rules  # type: ignore[method-assign]
    SecurityGroupBackend._sg_update_description = _sg_update_description  # type: ignore[method-assign]
    SecurityGroupBackend.modify_security_group_rules = _modify_security_group_rules  # type: ignore[method-assign]

    SecurityGroups.authorize_security_group_ingress = lambda self: _authorize(self, False)  # type: ignore[method-assign]
    SecurityGroups.authorize_security_group_egress = lambda self: _authorize(self, True)  # type: ignore[method-assign]
    SecurityGroups.revoke_security_group_ingress = lambda self: _revoke(self, False)  # type: ignore[method-assign]
    SecurityGroups.revoke_security_group_egress = lambda self: _revoke(self, True)  # type: ignore[method-assign]
    SecurityGroups.update_security_group_rule_descriptions_ingress = lambda self: _update_descriptions(self, False)  # type: ignore[method-assign]
    SecurityGroups.update_security_group_rule_descriptions_egress = lambda self: _update_descriptions(self, True)  # type: ignore[method-assign]
    _APPLIED = True


__all__ = ["apply"]
