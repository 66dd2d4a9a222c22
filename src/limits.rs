//! What AWS and the CRD allow in a set: sizes, quotas, character sets, the risky ports and the
//! tag keys the controller owns. A leaf module (it imports nothing of the crate): the CRD's CEL
//! rules (`api::cel`), the controller's validation (`model::validate`), the audit and the CLI
//! defaults all read these, so they cannot disagree.

/// AWS's default quota of inbound rules per group, and separately of outbound rules. Accounts
/// can raise it; the controller's `--max-ingress-rules` / `--max-egress-rules` follow.
pub const DEFAULT_RULES_PER_GROUP: usize = 60;

/// At most this many tiers (security groups) in one set (bounds the CEL cost estimate).
pub const MAX_TIERS: u32 = 16;
/// At most this many rules in one direction of one tier: each rule is at least one AWS rule,
/// so more always exceeds the default quota.
pub const MAX_RULES: u32 = DEFAULT_RULES_PER_GROUP as u32;
/// At most this many peers in one rule (each peer is one AWS rule).
pub const MAX_PEERS: u32 = 20;

/// AWS allows 50 tags per resource; the controller sets [`CONTROLLER_TAG_COUNT`] of them.
pub const AWS_MAX_TAGS: u32 = 50;
pub const CONTROLLER_TAG_COUNT: u32 = 5;
/// Tags a set (or a tier, or both together) may declare.
pub const MAX_USER_TAGS: u32 = AWS_MAX_TAGS - CONTROLLER_TAG_COUNT;
pub const MAX_TAG_KEY_CHARS: usize = 128;
pub const MAX_TAG_VALUE_CHARS: usize = 256;

/// AWS's characters for tag keys and values. Groups and parameters carry the same tags, so
/// the stricter rule holds: SSM's (AWS General Reference, "Tagging your AWS resources": letters,
/// numbers and spaces representable in UTF-8, and `_ . : / = + - @`; EC2 allows more).
pub const TAG_CHARS: &str = r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$";
pub const TAG_CHARS_MESSAGE: &str = "tag keys and values may use only letters, digits, spaces and _.:/=+-@ (as AWS allows for SSM parameter tags)";

/// The owner tag's value is `{namespace}/{set name}` and AWS allows 256 characters; namespaces
/// have up to 63, so a set name has up to 192 (the API server's rules cannot see the namespace).
pub const MAX_NAMESPACE_CHARS: usize = 63;
pub const MAX_SET_NAME_CHARS: usize = MAX_TAG_VALUE_CHARS - 1 - MAX_NAMESPACE_CHARS;

/// Group and rule descriptions, and group names: AWS's maximum length.
pub const MAX_DESCRIPTION_CHARS: usize = 255;
pub const MAX_GROUP_NAME_CHARS: usize = 255;

/// Ports that must not be open to 0.0.0.0/0 or ::/0 unless the set allows it: SSH, RDP, SMB,
/// NetBIOS, SQL Server, MySQL, PostgreSQL, MongoDB.
pub const RISKY_PORTS: [i32; 8] = [22, 3389, 445, 139, 1433, 3306, 5432, 27017];

/// The owner tag's value is `{namespace}/{set name}`; with the cluster tag it makes a group ours.
pub const OWNER_TAG: &str = "sgprovisioner.io/owner";
pub const CLUSTER_TAG: &str = "sgprovisioner.io/cluster";
pub const TIER_TAG: &str = "sgprovisioner.io/tier";
pub const MANAGED_BY_TAG: &str = "ManagedBy";
pub const MANAGED_BY: &str = "sg-provisioner";
pub const NAME_TAG: &str = "Name";
/// Tag keys under this prefix are the controller's; a spec cannot set them.
pub const CONTROLLER_TAG_PREFIX: &str = "sgprovisioner.io/";
/// Controller tags outside [`CONTROLLER_TAG_PREFIX`].
pub const RESERVED_TAG_KEYS: [&str; 2] = [MANAGED_BY_TAG, NAME_TAG];

/// AWS's characters for group and rule descriptions besides letters and digits.
pub const DESCRIPTION_PUNCTUATION: &str = " ._-:/()#,@[]+=&;{}!$*";

// Patterns, as the CEL rules write them (RE2). The Rust validation checks the same sets of
// strings by hand; tests in `model` hold the two together.
pub const DNS_LABEL: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/// A DNS-1123 subdomain, as Kubernetes checks object names (ConfigMaps'): dot-separated DNS
/// labels, at most [`MAX_DNS_SUBDOMAIN_CHARS`] in all.
pub const DNS_SUBDOMAIN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
pub const MAX_DNS_SUBDOMAIN_CHARS: usize = 253;
pub const VPC_ID: &str = "^vpc-([0-9a-f]{8}|[0-9a-f]{17})$";
pub const SG_ID: &str = "^sg-([0-9a-f]{8}|[0-9a-f]{17})$";
pub const PREFIX_LIST_ID: &str = "^pl-[0-9a-f]{1,17}$";
pub const REGION: &str = "^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$";
/// An SSM parameter path: `/`-separated, letters, digits and `_.-`, no empty level.
pub const SSM_PATH: &str = "^(/[a-zA-Z0-9_.-]+)+$";
/// [`DESCRIPTION_PUNCTUATION`] as a character class.
pub const DESCRIPTION: &str = r"^[a-zA-Z0-9 ._:/()#,@\[\]+=&;{}!$*-]*$";
pub const PORTS: &str = "^[0-9]{1,5}(-[0-9]{1,5})?$";
/// An IAM role ARN, `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME` (IAM User Guide, "IAM
/// identifiers": a path of printable ASCII between slashes, a name of 1 to 64 of `\w+=,.@-`;
/// STS API Reference, AssumeRole: `RoleArn` 20 to 2048 characters).
pub const ROLE_ARN: &str = "^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/([!-~]*/)?[A-Za-z0-9+=,.@_-]{1,64}$";
pub const MAX_ROLE_ARN_CHARS: usize = 2048;
/// STS API Reference, AssumeRole: `ExternalId` 2 to 1224 characters of `[\w+=,.@:/-]` (the
/// length is the schema's: RE2 repeats at most 1000 times).
pub const EXTERNAL_ID: &str = "^[A-Za-z0-9+=,.@:/_-]*$";
pub const MIN_EXTERNAL_ID_CHARS: usize = 2;
pub const MAX_EXTERNAL_ID_CHARS: usize = 1224;
pub const PROTOCOL_NUMBER: &str = "^(0|[1-9][0-9]{0,2})$";

// Messages both validators give, word for word.
pub const DNS_LABEL_MESSAGE: &str = "must be a DNS label: lower-case letters, digits and '-', at most 63";
pub const DNS_SUBDOMAIN_MESSAGE: &str = "must be a DNS-1123 subdomain (a ConfigMap name): lower-case letters, digits, - and ., \
     starting and ending with a letter or digit, at most 253 characters";
pub const DESCRIPTION_MESSAGE: &str =
    "must use AWS's character set: letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*";
pub const ONE_PEER_KEY_MESSAGE: &str =
    "a peer has exactly one of cidr, ipv6Cidr, prefixListId, tier, self, securityGroupId, setRef";
pub const SSM_PATH_MESSAGE: &str =
    "is not an SSM parameter path (/a/b: letters, digits and _.-, at most 15 levels, not under /aws or /ssm)";
pub const ROLE_ARN_MESSAGE: &str =
    "is not an IAM role ARN like arn:aws:iam::123456789012:role/sg-provisioner";
pub const EXTERNAL_ID_MESSAGE: &str = "must be letters, digits and +=,.@:/_- (an STS ExternalId)";
pub const EMPTY_DESCRIPTION_MESSAGE: &str = "must not be empty: leave description out for none";
pub const SET_NAME_LENGTH_MESSAGE: &str = "set names are at most 192 characters: the owner tag {namespace}/{name} must fit AWS's 256 (namespaces have up to 63)";
pub const DESCRIPTION_IMMUTABLE_MESSAGE: &str = "description is immutable: AWS cannot change a group's description; \
     to change it, rename the tier (a new group is made, the old one deleted)";
pub const IMMUTABLE_HOWTO: &str = "to move a set, create a new set with the new value and delete this one \
     (deletionPolicy: Retain keeps AWS as it is)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_pattern_lists_the_same_punctuation() {
        for c in DESCRIPTION_PUNCTUATION.chars() {
            let shown = if "[]".contains(c) {
                format!("\\{c}")
            } else {
                c.to_string()
            };
            assert!(DESCRIPTION.contains(&shown), "{c:?} missing from DESCRIPTION");
        }
        let class = &DESCRIPTION[r"^[a-zA-Z0-9".len()..DESCRIPTION.len() - "]*$".len()];
        assert_eq!(class.replace('\\', "").len(), DESCRIPTION_PUNCTUATION.len());
    }

    #[test]
    fn the_set_name_bound_fits_the_owner_tag() {
        assert_eq!(MAX_SET_NAME_CHARS, 192);
        assert!(SET_NAME_LENGTH_MESSAGE.contains(&MAX_SET_NAME_CHARS.to_string()));
    }

    #[test]
    fn the_crd_bound_is_the_default_quota() {
        assert_eq!(MAX_RULES as usize, DEFAULT_RULES_PER_GROUP);
    }
}
