//! The AWS writes a plan is made of: one [`Action`] is one AWS API call.

use std::collections::BTreeMap;
use std::fmt;

use super::{GroupRef, Rule};
use crate::model::Direction;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    CreateGroup {
        tier: String,
        name: String,
        vpc_id: String,
        description: String,
        tags: BTreeMap<String, String>,
    },
    /// Tags a group the user named in an adoption annotation as ours.
    AdoptGroup {
        tier: String,
        group_id: String,
        tags: BTreeMap<String, String>,
    },
    Authorize {
        tier: String,
        group: GroupRef,
        direction: Direction,
        rules: Vec<Rule>,
    },
    UpdateDescriptions {
        tier: String,
        group: GroupRef,
        direction: Direction,
        rules: Vec<Rule>,
    },
    Revoke {
        tier: String,
        group: GroupRef,
        direction: Direction,
        rules: Vec<Rule>,
        /// Revoked before the authorizations, not after: the group is at its rules quota.
        make_room: bool,
    },
    TagGroup {
        tier: String,
        group_id: String,
        tags: BTreeMap<String, String>,
    },
    UntagGroup {
        tier: String,
        group_id: String,
        keys: Vec<String>,
    },
    /// A new parameter, with its tags in the same call.
    CreateParameter {
        tier: String,
        name: String,
        group: GroupRef,
        tags: BTreeMap<String, String>,
    },
    /// A new value for a parameter of ours (AWS refuses tags together with overwrite).
    OverwriteParameter {
        tier: String,
        name: String,
        group: GroupRef,
    },
    TagParameter {
        tier: String,
        name: String,
        tags: BTreeMap<String, String>,
    },
    UntagParameter {
        tier: String,
        name: String,
        keys: Vec<String>,
    },
    DeleteGroup {
        tier: String,
        group_id: String,
        why: &'static str,
    },
    DeleteParameter {
        tier: String,
        name: String,
    },
}

impl Action {
    /// A stable name of the change, for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::CreateGroup { .. } => "create-group",
            Action::AdoptGroup { .. } => "adopt-group",
            Action::Authorize { .. } => "authorize",
            Action::UpdateDescriptions { .. } => "update-descriptions",
            Action::Revoke { .. } => "revoke",
            Action::TagGroup { .. } => "tag",
            Action::UntagGroup { .. } => "untag",
            Action::CreateParameter { .. } => "create-parameter",
            Action::OverwriteParameter { .. } => "overwrite-parameter",
            Action::TagParameter { .. } => "tag-parameter",
            Action::UntagParameter { .. } => "untag-parameter",
            Action::DeleteGroup { .. } => "delete-group",
            Action::DeleteParameter { .. } => "delete-parameter",
        }
    }

    /// The AWS API operation that carries the action out: exactly one call per action.
    pub fn operation(&self) -> &'static str {
        let by_direction = |d: &Direction, ingress, egress| match d {
            Direction::Ingress => ingress,
            Direction::Egress => egress,
        };
        match self {
            Action::CreateGroup { .. } => "CreateSecurityGroup",
            Action::AdoptGroup { .. } | Action::TagGroup { .. } => "CreateTags",
            Action::UntagGroup { .. } => "DeleteTags",
            Action::Authorize { direction, .. } => by_direction(
                direction,
                "AuthorizeSecurityGroupIngress",
                "AuthorizeSecurityGroupEgress",
            ),
            Action::Revoke { direction, .. } => by_direction(
                direction,
                "RevokeSecurityGroupIngress",
                "RevokeSecurityGroupEgress",
            ),
            Action::UpdateDescriptions { direction, .. } => by_direction(
                direction,
                "UpdateSecurityGroupRuleDescriptionsIngress",
                "UpdateSecurityGroupRuleDescriptionsEgress",
            ),
            Action::CreateParameter { .. } | Action::OverwriteParameter { .. } => "PutParameter",
            Action::TagParameter { .. } => "AddTagsToResource",
            Action::UntagParameter { .. } => "RemoveTagsFromResource",
            Action::DeleteGroup { .. } => "DeleteSecurityGroup",
            Action::DeleteParameter { .. } => "DeleteParameter",
        }
    }

    /// The tier the change belongs to.
    pub fn tier(&self) -> &str {
        match self {
            Action::CreateGroup { tier, .. }
            | Action::AdoptGroup { tier, .. }
            | Action::Authorize { tier, .. }
            | Action::UpdateDescriptions { tier, .. }
            | Action::Revoke { tier, .. }
            | Action::TagGroup { tier, .. }
            | Action::UntagGroup { tier, .. }
            | Action::CreateParameter { tier, .. }
            | Action::OverwriteParameter { tier, .. }
            | Action::TagParameter { tier, .. }
            | Action::UntagParameter { tier, .. }
            | Action::DeleteGroup { tier, .. }
            | Action::DeleteParameter { tier, .. } => tier,
        }
    }
}

fn rule_list(rules: &[Rule], direction: Direction) -> String {
    let word = match direction {
        Direction::Ingress => "from",
        Direction::Egress => "to",
    };
    let shown: Vec<String> = rules
        .iter()
        .map(|r| format!("{} {word} {}", r.traffic, r.peer))
        .collect();
    shown.join(", ")
}

fn tag_list(tags: &BTreeMap<String, String>) -> String {
    let kv: Vec<_> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    kv.join(", ")
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::CreateGroup { tier, name, .. } => write!(f, "+ create group {name} (tier {tier})"),
            Action::AdoptGroup { tier, group_id, .. } => {
                write!(f, "~ adopt group {group_id} (tier {tier}): tag it as this set's")
            }
            Action::Authorize {
                tier,
                direction,
                rules,
                ..
            } => write!(
                f,
                "+ authorize {} {tier}: {}",
                direction.as_str(),
                rule_list(rules, *direction)
            ),
            Action::UpdateDescriptions {
                tier,
                direction,
                rules,
                ..
            } => write!(
                f,
                "~ describe {} {tier}: {}",
                direction.as_str(),
                rule_list(rules, *direction)
            ),
            Action::Revoke {
                tier,
                direction,
                rules,
                make_room,
                ..
            } => write!(
                f,
                "- revoke {} {tier}{}: {}",
                direction.as_str(),
                if *make_room {
                    " (first, to stay within the rules quota)"
                } else {
                    ""
                },
                rule_list(rules, *direction)
            ),
            Action::TagGroup { tier, tags, .. } => write!(f, "~ tag {tier}: {}", tag_list(tags)),
            Action::UntagGroup { tier, keys, .. } => write!(f, "~ untag {tier}: {}", keys.join(", ")),
            Action::CreateParameter { name, group, .. } => write!(f, "+ parameter {name} = {group}"),
            Action::OverwriteParameter { name, group, .. } => write!(f, "~ parameter {name} = {group}"),
            Action::TagParameter { name, tags, .. } => {
                write!(f, "~ tag parameter {name}: {}", tag_list(tags))
            }
            Action::UntagParameter { name, keys, .. } => {
                write!(f, "~ untag parameter {name}: {}", keys.join(", "))
            }
            Action::DeleteGroup { tier, group_id, why } => {
                write!(f, "- delete group {group_id} (tier {tier}, {why})")
            }
            Action::DeleteParameter { name, .. } => write!(f, "- delete parameter {name}"),
        }
    }
}
