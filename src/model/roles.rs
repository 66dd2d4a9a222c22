//! Per-set roles: the IAM role a set names (`spec.aws`) and the controller's allow-list of
//! them (`--allowed-role-arns`). Pure: no AWS call is made to decide.

use crate::api::SecurityGroupSetSpec;

/// The IAM role a set's EC2 and SSM calls are made with (STS AssumeRole), and the ExternalId
/// its trust policy wants.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Role {
    pub arn: String,
    pub external_id: Option<String>,
}

impl Role {
    /// The role a spec names, if any.
    pub fn of(spec: &SecurityGroupSetSpec) -> Option<Role> {
        spec.aws.as_ref().map(|a| Role {
            arn: a.role_arn.clone(),
            external_id: a.external_id.clone(),
        })
    }

    /// The account of the ARN (`arn:aws:iam::ACCOUNT:role/...`), when it names one.
    pub fn account(&self) -> Option<&str> {
        self.arn.split(':').nth(4).filter(|a| !a.is_empty())
    }
}

/// ARN patterns, matched as IAM's `ArnLike` condition matches: each of the six `:`-separated
/// parts on its own, `*` any run of characters and `?` any one character within a part,
/// case-sensitive. Empty: no set may name a role.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedRoles {
    patterns: Vec<String>,
}

impl AllowedRoles {
    pub fn new(patterns: &[String]) -> Result<Self, String> {
        let patterns = patterns
            .iter()
            .map(|p| Self::pattern(p))
            .collect::<Result<_, _>>()?;
        Ok(AllowedRoles { patterns })
    }

    /// One pattern, checked: `arn:PARTITION:iam::ACCOUNT:role/NAME`, any part with wildcards.
    pub fn pattern(pattern: &str) -> Result<String, String> {
        let parts: Vec<&str> = pattern.splitn(6, ':').collect();
        let ok = parts.len() == 6
            && parts[0] == "arn"
            && glob(parts[2], "iam")
            && (parts[5].starts_with("role/") || parts[5].starts_with(['*', '?']))
            && !pattern.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok {
            Ok(pattern.to_string())
        } else {
            Err(format!(
                "{pattern:?}: expected an IAM role ARN pattern like arn:aws:iam::123456789012:role/sg-* \
                 (* and ? match within one :-separated part)"
            ))
        }
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether some pattern matches the whole ARN.
    pub fn allows(&self, arn: &str) -> bool {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        parts.len() == 6
            && self.patterns.iter().any(|p| {
                let pattern: Vec<&str> = p.splitn(6, ':').collect();
                pattern.iter().zip(&parts).all(|(p, t)| glob(p, t))
            })
    }

    /// Why `role` may not be used, when it may not: the message names the allowed patterns.
    pub fn refusal(&self, role: &Role) -> Option<String> {
        if self.allows(&role.arn) {
            return None;
        }
        let allowed = if self.patterns.is_empty() {
            "no role".to_string()
        } else {
            self.patterns.join(", ")
        };
        Some(format!(
            "role {} is not allowed: the controller's --allowed-role-arns allows {allowed}",
            role.arn
        ))
    }
}

/// `*` any run of characters, `?` any one; everything else literally.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was, and the text position it was tried against.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            // The last `*` takes one more character.
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(patterns: &[&str]) -> AllowedRoles {
        AllowedRoles::new(&patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn glob_matches_stars_and_question_marks() {
        for (p, t, want) in [
            ("sg-*", "sg-", true),
            ("sg-*", "sg-prod", true),
            ("sg-*", "xsg-prod", false),
            ("*-prod", "sg-a-prod", true),
            ("*-prod", "sg-a-prod2", false),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("??", "ab", true),
            ("??", "abc", false),
            ("", "", true),
            ("*", "", true),
            ("role/sg-*", "role/team/sg-x", false),
            ("role/*sg-*", "role/team/sg-x", true),
        ] {
            assert_eq!(glob(p, t), want, "{p} ~ {t}");
        }
    }

    #[test]
    fn patterns_match_part_by_part_as_arn_like() {
        let a = allowed(&[
            "arn:aws:iam::123456789012:role/sg-*",
            "arn:aws:iam::*:role/shared",
        ]);
        assert!(a.allows("arn:aws:iam::123456789012:role/sg-prod"));
        assert!(a.allows("arn:aws:iam::210987654321:role/shared"));
        assert!(
            !a.allows("arn:aws:iam::210987654321:role/sg-prod"),
            "another account"
        );
        assert!(
            !a.allows("arn:aws:iam::123456789012:role/SG-prod"),
            "case-sensitive"
        );
        assert!(!a.allows("arn:aws:iam::123456789012:role/other"));
        assert!(
            !a.allows("arn:aws-cn:iam::123456789012:role/sg-prod"),
            "another partition"
        );
        // `*` stays within its part: an account wildcard does not swallow the resource.
        let b = allowed(&["arn:aws:iam::*:role/x"]);
        assert!(!b.allows("arn:aws:iam::1:2:role/x"));
        assert!(!AllowedRoles::default().allows("arn:aws:iam::123456789012:role/sg-prod"));
    }

    #[test]
    fn refusal_names_the_role_and_what_is_allowed() {
        let role = Role {
            arn: "arn:aws:iam::123456789012:role/other".into(),
            external_id: None,
        };
        let none = AllowedRoles::default().refusal(&role).unwrap();
        assert!(
            none.contains("role/other") && none.contains("allows no role"),
            "{none}"
        );
        let some = allowed(&["arn:aws:iam::123456789012:role/sg-*"])
            .refusal(&role)
            .unwrap();
        assert!(
            some.contains("allows arn:aws:iam::123456789012:role/sg-*"),
            "{some}"
        );
        assert_eq!(allowed(&["arn:*:iam::*:role/*"]).refusal(&role), None);
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in [
            "",
            "*",
            "sg-*",
            "arn:aws:iam::123456789012",
            "arn:aws:sts::123456789012:role/x",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:iam::123456789012:role/a b",
        ] {
            assert!(AllowedRoles::pattern(bad).is_err(), "{bad:?}");
        }
        for good in [
            "arn:aws:iam::123456789012:role/sg-*",
            "arn:*:iam::*:role/*",
            "arn:aws:iam::*:*",
        ] {
            assert_eq!(AllowedRoles::pattern(good).as_deref(), Ok(good));
        }
    }

    #[test]
    fn the_account_is_the_fifth_part() {
        let role = |arn: &str| Role {
            arn: arn.into(),
            external_id: None,
        };
        assert_eq!(
            role("arn:aws:iam::123456789012:role/x").account(),
            Some("123456789012")
        );
        assert_eq!(role("not-an-arn").account(), None);
    }
}
