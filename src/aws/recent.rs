//! What this process created moments ago and no read has listed yet, by owner: EC2 and SSM
//! are eventually consistent, so a describe right after a create may not list it yet. Teardown waits until what was just
//! created is listed, instead of concluding "nothing left" and removing the finalizer while a
//! group or parameter it cannot see yet stays behind
//! (https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an unlisted create is remembered: past the few seconds AWS takes to list it. It
/// bounds the wait of a teardown whose group was deleted by someone else before any read
/// listed it (it cannot tell that from "not listed yet").
pub const REMEMBERED: Duration = Duration::from_secs(15);

#[derive(Debug, Default)]
pub struct Recent {
    /// Group id or parameter name -> (owner tag, when created).
    created: Mutex<HashMap<String, (String, Instant)>>,
}

impl Recent {
    /// The key of a group by name, for a create whose answer was lost (no id known).
    pub fn group_name(vpc_id: &str, name: &str) -> String {
        format!("group {vpc_id}/{name}")
    }

    pub fn created(&self, resource: &str, owner: Option<&String>) {
        let Some(owner) = owner else { return };
        let mut created = self.created.lock().unwrap();
        created.retain(|_, (_, at)| at.elapsed() < REMEMBERED);
        created.insert(resource.to_string(), (owner.clone(), Instant::now()));
    }

    /// Listed by a read: visible from now on, so a later absence means it is gone (deleted by
    /// someone else), not that AWS has not caught up.
    pub fn listed<'a>(&self, resources: impl IntoIterator<Item = &'a str>) {
        let mut created = self.created.lock().unwrap();
        if created.is_empty() {
            return;
        }
        for r in resources {
            created.remove(r);
        }
    }

    pub fn deleted(&self, resource: &str) {
        self.created.lock().unwrap().remove(resource);
    }

    /// What `owner` had created within [`REMEMBERED`] that is not in `listed`.
    pub fn unlisted<'a>(&self, owner: &str, listed: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let listed: std::collections::HashSet<&str> = listed.into_iter().collect();
        let created = self.created.lock().unwrap();
        let mut unlisted: Vec<String> = created
            .iter()
            .filter(|(r, (o, at))| o == owner && at.elapsed() < REMEMBERED && !listed.contains(r.as_str()))
            .map(|(r, _)| r.clone())
            .collect();
        unlisted.sort();
        unlisted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_is_unlisted_until_listed_or_deleted() {
        let recent = Recent::default();
        let owner = "ns/set".to_string();
        recent.created("sg-1", Some(&owner));
        recent.created("/sg/set/web/SecurityGroupId", Some(&owner));
        recent.created("sg-other", Some(&"ns/other".to_string()));
        recent.created("sg-untagged", None);
        assert_eq!(
            recent.unlisted("ns/set", ["sg-1"]),
            vec!["/sg/set/web/SecurityGroupId".to_string()]
        );
        recent.deleted("/sg/set/web/SecurityGroupId");
        assert!(recent.unlisted("ns/set", []).contains(&"sg-1".to_string()));
        // Once listed, its absence is a deletion: nothing to wait for.
        recent.listed(["sg-1"]);
        assert!(recent.unlisted("ns/set", []).is_empty());
        assert!(recent.unlisted("ns/nobody", []).is_empty());
    }
}
