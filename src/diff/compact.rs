//! Groups as the shared view (`reconcile::shared`) keeps them between resyncs. At 1,000 sets the view holds 3,000
//! groups; as [`ObservedGroup`]s they were its largest part (~2.2 KiB a group, half of it tag
//! maps). Here the strings that repeat from group to group (tag keys, the cluster and tier
//! names, protocols, CIDRs, rule descriptions, the VPC) are kept once, and a group is turned
//! back into an [`ObservedGroup`] only when a set's resync asks for its own.

use std::collections::HashSet;
use std::sync::Arc;

use super::{ConcretePeer, GroupRef, ObservedGroup, Rule};
use crate::model::RuleMatch;

type Shared = Arc<str>;

/// One string per distinct value, for the time one view is built.
#[derive(Default)]
pub struct Interner(HashSet<Shared>);

impl Interner {
    pub fn get(&mut self, s: &str) -> Shared {
        if let Some(kept) = self.0.get(s) {
            return kept.clone();
        }
        let kept: Shared = s.into();
        self.0.insert(kept.clone());
        kept
    }
}

#[derive(Debug)]
pub struct CompactGroup {
    id: Box<str>,
    name: Box<str>,
    vpc_id: Shared,
    description: Shared,
    /// Sorted by key, as the map they came from.
    tags: Box<[(Shared, Shared)]>,
    ingress: Box<[CompactRule]>,
    egress: Box<[CompactRule]>,
}

#[derive(Debug)]
struct CompactRule {
    protocol: Shared,
    from_port: i32,
    to_port: i32,
    peer: CompactPeer,
    description: Option<Shared>,
}

#[derive(Debug)]
enum CompactPeer {
    Cidr(Shared),
    Ipv6Cidr(Shared),
    PrefixList(Shared),
    Existing(Box<str>),
    Pending(Box<str>),
}

impl CompactGroup {
    pub fn new(g: &ObservedGroup, strings: &mut Interner) -> Self {
        let rules = |rules: &[Rule], strings: &mut Interner| {
            rules.iter().map(|r| CompactRule::new(r, strings)).collect()
        };
        CompactGroup {
            id: g.id.as_str().into(),
            name: g.name.as_str().into(),
            vpc_id: strings.get(&g.vpc_id),
            description: strings.get(&g.description),
            tags: g
                .tags
                .iter()
                .map(|(k, v)| (strings.get(k), strings.get(v)))
                .collect(),
            ingress: rules(&g.ingress, strings),
            egress: rules(&g.egress, strings),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The value of tag `key`, without building the group.
    pub fn tag(&self, key: &str) -> Option<&str> {
        let at = self.tags.binary_search_by(|(k, _)| (**k).cmp(key)).ok()?;
        Some(&self.tags[at].1)
    }

    pub fn expand(&self) -> ObservedGroup {
        ObservedGroup {
            id: self.id.to_string(),
            name: self.name.to_string(),
            vpc_id: self.vpc_id.to_string(),
            description: self.description.to_string(),
            tags: self
                .tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ingress: self.ingress.iter().map(CompactRule::expand).collect(),
            egress: self.egress.iter().map(CompactRule::expand).collect(),
        }
    }
}

impl CompactRule {
    fn new(r: &Rule, strings: &mut Interner) -> Self {
        let peer = match &r.peer {
            ConcretePeer::Cidr(c) => CompactPeer::Cidr(strings.get(c)),
            ConcretePeer::Ipv6Cidr(c) => CompactPeer::Ipv6Cidr(strings.get(c)),
            ConcretePeer::PrefixList(p) => CompactPeer::PrefixList(strings.get(p)),
            ConcretePeer::Group(GroupRef::Existing(id)) => CompactPeer::Existing(id.as_str().into()),
            ConcretePeer::Group(GroupRef::Pending(tier)) => CompactPeer::Pending(tier.as_str().into()),
        };
        CompactRule {
            protocol: strings.get(&r.traffic.protocol),
            from_port: r.traffic.from_port,
            to_port: r.traffic.to_port,
            peer,
            description: r.description.as_deref().map(|d| strings.get(d)),
        }
    }

    fn expand(&self) -> Rule {
        let peer = match &self.peer {
            CompactPeer::Cidr(c) => ConcretePeer::Cidr(c.to_string()),
            CompactPeer::Ipv6Cidr(c) => ConcretePeer::Ipv6Cidr(c.to_string()),
            CompactPeer::PrefixList(p) => ConcretePeer::PrefixList(p.to_string()),
            CompactPeer::Existing(id) => ConcretePeer::Group(GroupRef::Existing(id.to_string())),
            CompactPeer::Pending(tier) => ConcretePeer::Group(GroupRef::Pending(tier.to_string())),
        };
        Rule {
            traffic: RuleMatch {
                protocol: self.protocol.to_string(),
                from_port: self.from_port,
                to_port: self.to_port,
            },
            peer,
            description: self.description.as_ref().map(|d| d.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CLUSTER_TAG, OWNER_TAG};

    fn group(id: &str, owner: &str) -> ObservedGroup {
        let rule = |peer| Rule {
            traffic: RuleMatch {
                protocol: "tcp".into(),
                from_port: 443,
                to_port: 443,
            },
            peer,
            description: Some("https".into()),
        };
        ObservedGroup {
            id: id.into(),
            name: format!("{owner}-web"),
            vpc_id: "vpc-1".into(),
            description: "web".into(),
            tags: [(OWNER_TAG, owner), (CLUSTER_TAG, "c1"), ("team", "")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
            ingress: vec![
                rule(ConcretePeer::Cidr("10.0.0.0/8".into())),
                rule(ConcretePeer::Ipv6Cidr("::/0".into())),
                rule(ConcretePeer::PrefixList("pl-1".into())),
                rule(ConcretePeer::Group(GroupRef::Existing("sg-9".into()))),
            ],
            egress: vec![Rule {
                description: None,
                ..rule(ConcretePeer::Group(GroupRef::Pending("db".into())))
            }],
        }
    }

    #[test]
    fn a_group_comes_back_as_it_went_in() {
        let mut strings = Interner::default();
        for g in [group("sg-1", "ns/a"), group("sg-2", "ns/b")] {
            assert_eq!(CompactGroup::new(&g, &mut strings).expand(), g);
        }
    }

    #[test]
    fn repeated_strings_are_kept_once_and_tags_are_found_by_key() {
        let mut strings = Interner::default();
        let a = CompactGroup::new(&group("sg-1", "ns/a"), &mut strings);
        let b = CompactGroup::new(&group("sg-2", "ns/b"), &mut strings);
        assert!(
            Arc::ptr_eq(&a.tags[0].1, &b.tags[0].1),
            "the cluster value is one string"
        );
        assert!(Arc::ptr_eq(&a.ingress[0].protocol, &b.ingress[0].protocol));
        assert_eq!(a.tag(OWNER_TAG), Some("ns/a"));
        assert_eq!(b.tag("team"), Some(""));
        assert_eq!(a.tag("missing"), None);
    }
}
