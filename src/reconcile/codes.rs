//! Every AWS and SSM error code the controller can meet, in one table: what the set's status
//! says (reason, `Stalled` or `Reconciling`), when to try again, and which spec field the
//! error is about. A code not listed is retried with backoff and reported by its code.

use std::time::Duration;

use crate::api::{Peer, SecurityGroupSetSpec, Tier};
use crate::model::Direction;

/// What the controller does after an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Exponential backoff with jitter (throttling, 5xx, conflicts).
    Backoff,
    /// A fixed, slow retry: something outside the spec must change (a VPC, a foreign group).
    Slowly(Duration),
    /// Nothing to retry until the spec changes: the failed writes are held for the
    /// generation, the set is still resynced (`reconcile::stalls`).
    UntilSpecChanges,
}

/// The kstatus condition an error sets: `Stalled` needs a human, `Reconciling` will heal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Stalled,
    Reconciling,
}

pub struct Classified {
    pub reason: &'static str,
    pub health: Health,
    pub retry: Retry,
}

/// The part of the spec an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concerns {
    /// The peer whose id AWS names in its message (else the tier's rules of that direction).
    Peer,
    /// The tier's rules of the failed action's direction.
    Rules,
    /// The tier's tags, or the set's.
    Tags,
    /// The tier's group description.
    Description,
    Vpc,
    /// Nothing a spec change fixes.
    Nothing,
}

#[derive(Clone, Copy, Debug)]
enum When {
    Backoff,
    Slowly,
    SpecChanges,
}

struct Code {
    codes: &'static [&'static str],
    reason: &'static str,
    health: Health,
    when: When,
    concerns: Concerns,
}

const fn code(
    codes: &'static [&'static str],
    reason: &'static str,
    health: Health,
    when: When,
    concerns: Concerns,
) -> Code {
    Code {
        codes,
        reason,
        health,
        when,
        concerns,
    }
}

use Concerns as C;
use Health::{Reconciling, Stalled};

/// A peer that does not exist yet may appear (another team's group): retried slowly. A value
/// AWS refuses outright waits for the spec to change.
const TABLE: &[Code] = &[
    code(
        &["InvalidGroup.NotFound"],
        "PeerNotFound",
        Stalled,
        When::Slowly,
        C::Peer,
    ),
    code(
        &["InvalidPrefixListId.NotFound", "InvalidPrefixListID.NotFound"],
        "PeerNotFound",
        Stalled,
        When::Slowly,
        C::Peer,
    ),
    code(
        &["InvalidGroupId.Malformed", "InvalidPrefixListId.Malformed"],
        "AwsRefusedSpec",
        Stalled,
        When::SpecChanges,
        C::Peer,
    ),
    code(
        &["RulesPerSecurityGroupLimitExceeded"],
        "QuotaExceeded",
        Stalled,
        When::Slowly,
        C::Rules,
    ),
    code(
        &[
            "SecurityGroupLimitExceeded",
            "ParameterLimitExceeded",
            "ResourceLimitExceeded",
        ],
        "QuotaExceeded",
        Stalled,
        When::Slowly,
        C::Nothing,
    ),
    code(
        &["InvalidPermission.Malformed", "InvalidParameterCombination"],
        "AwsRefusedSpec",
        Stalled,
        When::SpecChanges,
        C::Rules,
    ),
    code(
        &["InvalidParameterValue", "InvalidParameter"],
        "AwsRefusedSpec",
        Stalled,
        When::SpecChanges,
        C::Description,
    ),
    code(
        &["TooManyTagsError", "InvalidTag", "ValidationException"],
        "AwsRefusedSpec",
        Stalled,
        When::SpecChanges,
        C::Tags,
    ),
    code(
        &["InvalidVpcID.NotFound"],
        "VpcNotFound",
        Stalled,
        When::Slowly,
        C::Vpc,
    ),
    code(
        &[
            "UnauthorizedOperation",
            "AccessDenied",
            "AccessDeniedException",
            "AuthFailure",
            "InvalidClientTokenId",
            "UnrecognizedClientException",
        ],
        "AwsAccessDenied",
        Stalled,
        When::Slowly,
        C::Nothing,
    ),
    code(
        &["DependencyViolation"],
        "DeletionBlocked",
        Reconciling,
        When::Backoff,
        C::Nothing,
    ),
    code(
        &[
            "InvalidGroup.Duplicate",
            "ParameterAlreadyExists",
            "InvalidPermission.Duplicate",
            "InvalidPermission.NotFound",
        ],
        "AwsChanged",
        Reconciling,
        When::Backoff,
        C::Nothing,
    ),
];

fn entry(code: &str) -> Option<&'static Code> {
    TABLE.iter().find(|c| c.codes.contains(&code))
}

/// How an AWS error code is reported and retried; unknown codes are retried with backoff.
pub fn classify(code: &str) -> Classified {
    let Some(c) = entry(code) else {
        return Classified {
            reason: "AwsError",
            health: Reconciling,
            retry: Retry::Backoff,
        };
    };
    let retry = match c.when {
        When::Backoff => Retry::Backoff,
        When::Slowly => Retry::Slowly(Duration::from_secs(60)),
        When::SpecChanges => Retry::UntilSpecChanges,
    };
    Classified {
        reason: c.reason,
        health: c.health,
        retry,
    }
}

pub fn concerns(code: &str) -> Concerns {
    entry(code).map_or(Concerns::Nothing, |c| c.concerns)
}

/// The spec field an error in `tier` (and `direction`) is about, as the API server names it
/// (`spec.tiers[1].ingress[0].from[2].securityGroupId`); `message` is AWS's, which names the id.
pub fn field_path(
    spec: &SecurityGroupSetSpec,
    tier: &str,
    direction: Option<Direction>,
    code: &str,
    message: &str,
) -> Option<String> {
    let (i, t) = spec.tiers.iter().enumerate().find(|(_, t)| t.name == tier)?;
    let at = format!("spec.tiers[{i}]");
    match concerns(code) {
        Concerns::Peer => {
            let d = direction?;
            let within = peer_path(t, d, message).unwrap_or_else(|| d.as_str().to_string());
            Some(format!("{at}.{within}"))
        }
        Concerns::Rules => direction.map(|d| format!("{at}.{}", d.as_str())),
        Concerns::Tags if !t.tags.is_empty() => Some(format!("{at}.tags")),
        Concerns::Tags => Some("spec.tags".into()),
        Concerns::Description => Some(format!("{at}.description")),
        Concerns::Vpc => Some("spec.vpc".into()),
        Concerns::Nothing => None,
    }
}

/// `ingress[0].from[2].securityGroupId`: the peer whose id `message` names.
fn peer_path(tier: &Tier, direction: Direction, message: &str) -> Option<String> {
    let rules: Vec<&Vec<Peer>> = match direction {
        Direction::Ingress => tier.ingress.iter().map(|r| &r.from).collect(),
        Direction::Egress => tier.egress.iter().map(|r| &r.to).collect(),
    };
    let word = if direction == Direction::Ingress {
        "from"
    } else {
        "to"
    };
    for (j, peers) in rules.iter().enumerate() {
        for (k, peer) in peers.iter().enumerate() {
            let (key, id) = match peer {
                Peer::SecurityGroupId(id) => ("securityGroupId", id),
                Peer::PrefixListId(id) => ("prefixListId", id),
                _ => continue,
            };
            if message.contains(id.as_str()) {
                return Some(format!("{}[{j}].{word}[{k}].{key}", direction.as_str()));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_in_the_table_once() {
        let mut seen = std::collections::BTreeSet::new();
        for c in TABLE {
            for code in c.codes {
                assert!(seen.insert(*code), "{code} twice");
            }
        }
    }

    #[test]
    fn permanent_errors_stall_unknown_ones_back_off() {
        let missing = classify("InvalidPrefixListId.NotFound");
        assert_eq!(
            (missing.reason, missing.health),
            ("PeerNotFound", Health::Stalled)
        );
        assert_eq!(classify("ValidationException").retry, Retry::UntilSpecChanges);
        let unknown = classify("SomethingNew");
        assert_eq!(
            (unknown.reason, unknown.health, unknown.retry),
            ("AwsError", Health::Reconciling, Retry::Backoff)
        );
    }

    #[test]
    fn the_field_is_the_peer_aws_names() {
        let spec: SecurityGroupSetSpec = serde_json::from_value(serde_json::json!({
            "vpc": {"id": "vpc-00000001"},
            "tiers": [{"name": "web"}, {"name": "db", "tags": {"a": "b"}, "ingress": [
                {"protocol": "tcp", "ports": 5432, "from": [{"cidr": "10.0.0.0/8"}, {"prefixListId": "pl-0abc"}]}]}],
        }))
        .unwrap();
        let message = "The prefix list 'pl-0abc' does not exist";
        let path = field_path(
            &spec,
            "db",
            Some(Direction::Ingress),
            "InvalidPrefixListId.NotFound",
            message,
        );
        assert_eq!(
            path.as_deref(),
            Some("spec.tiers[1].ingress[0].from[1].prefixListId")
        );
        let quota = field_path(
            &spec,
            "db",
            Some(Direction::Ingress),
            "RulesPerSecurityGroupLimitExceeded",
            "",
        );
        assert_eq!(quota.as_deref(), Some("spec.tiers[1].ingress"));
        let tags = field_path(&spec, "db", None, "ValidationException", "");
        assert_eq!(tags.as_deref(), Some("spec.tiers[1].tags"));
        assert_eq!(field_path(&spec, "web", None, "AccessDenied", ""), None);
    }
}
