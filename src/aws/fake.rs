//! An in-memory account for unit tests of the stage driver: groups, rules, tags and parameters,
//! with the AWS errors the executor handles, and a log of every call by operation name.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{AwsApi, AwsError, Interface, Result};
use crate::diff::compact::{CompactGroup, Interner};
use crate::diff::{ConcretePeer, GroupRef, ObservedGroup, Rule, default_egress, default_egress_v6};
use crate::model::{Direction, Ownership};

#[derive(Clone, Debug, Default)]
pub struct FakeParameter {
    pub value: String,
    pub tags: BTreeMap<String, String>,
}

#[derive(Default)]
pub struct State {
    pub groups: Vec<ObservedGroup>,
    pub parameters: BTreeMap<String, FakeParameter>,
    /// Group id → network interfaces using it (deletion is refused while any).
    pub interfaces: BTreeMap<String, Vec<String>>,
    /// VPCs with an IPv6 block: their new groups get `::/0` egress too.
    pub dual_stack_vpcs: Vec<String>,
    /// Every call made, by AWS operation name, in order.
    pub calls: Vec<&'static str>,
    next_id: u32,
}

#[derive(Default)]
pub struct FakeAws {
    pub state: Mutex<State>,
}

fn service(operation: &'static str, code: &str) -> AwsError {
    AwsError::Service {
        operation,
        code: code.into(),
        message: String::new(),
    }
}

/// Calls that only read; every other call is a write.
pub const READS: [&str; 6] = [
    "DescribeSecurityGroups",
    "DescribeNetworkInterfaces",
    "GetParametersByPath",
    "GetParameter",
    "ListTagsForResource",
    "DescribeVpcs",
];

impl FakeAws {
    /// The writes made so far, by operation name.
    pub fn writes(&self) -> Vec<&'static str> {
        let state = self.state.lock().unwrap();
        state
            .calls
            .iter()
            .copied()
            .filter(|c| !READS.contains(c))
            .collect()
    }

    pub fn reads(&self) -> Vec<&'static str> {
        let state = self.state.lock().unwrap();
        state
            .calls
            .iter()
            .copied()
            .filter(|c| READS.contains(c))
            .collect()
    }

    pub fn clear_calls(&self) {
        self.state.lock().unwrap().calls.clear();
    }

    fn with<T>(&self, operation: &'static str, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        let mut state = self.state.lock().unwrap();
        state.calls.push(operation);
        f(&mut state)
    }

    fn group_mut<'a>(
        state: &'a mut State,
        id: &str,
        operation: &'static str,
    ) -> Result<&'a mut ObservedGroup> {
        state
            .groups
            .iter_mut()
            .find(|g| g.id == id)
            .ok_or_else(|| service(operation, "InvalidGroup.NotFound"))
    }

    fn rules_mut(group: &mut ObservedGroup, direction: Direction) -> &mut Vec<Rule> {
        match direction {
            Direction::Ingress => &mut group.ingress,
            Direction::Egress => &mut group.egress,
        }
    }

    /// Adds a group as if made by hand (outside the controller).
    pub fn add_group(&self, group: ObservedGroup) {
        self.state.lock().unwrap().groups.push(group);
    }
}

fn by_direction(direction: Direction, ingress: &'static str, egress: &'static str) -> &'static str {
    match direction {
        Direction::Ingress => ingress,
        Direction::Egress => egress,
    }
}

fn same(a: &Rule, b: &Rule) -> bool {
    a.traffic == b.traffic && a.peer == b.peer
}

impl AwsApi for FakeAws {
    async fn owned_groups(&self, ownership: &Ownership) -> Result<Vec<ObservedGroup>> {
        self.with("DescribeSecurityGroups", |s| {
            Ok(s.groups
                .iter()
                .filter(|g| ownership.owns(&g.tags))
                .cloned()
                .collect())
        })
    }

    async fn cluster_groups(&self, cluster: &str) -> Result<Vec<CompactGroup>> {
        let mut strings = Interner::default();
        self.with("DescribeSecurityGroups", |s| {
            Ok(s.groups
                .iter()
                .filter(|g| g.tags.get(crate::model::CLUSTER_TAG).map(String::as_str) == Some(cluster))
                .map(|g| CompactGroup::new(g, &mut strings))
                .collect())
        })
    }

    async fn group_by_id(&self, id: &str) -> Result<Option<ObservedGroup>> {
        self.with("DescribeSecurityGroups", |s| {
            Ok(s.groups.iter().find(|g| g.id == id).cloned())
        })
    }

    async fn groups_named(&self, vpc_id: &str, names: &[String]) -> Result<Vec<ObservedGroup>> {
        self.with("DescribeSecurityGroups", |s| {
            Ok(s.groups
                .iter()
                .filter(|g| g.vpc_id == vpc_id && names.contains(&g.name))
                .cloned()
                .collect())
        })
    }

    async fn groups_referencing(&self, group_id: &str) -> Result<Vec<ObservedGroup>> {
        self.with("DescribeSecurityGroups", |s| {
            let names = |g: &&ObservedGroup| {
                g.ingress
                    .iter()
                    .chain(&g.egress)
                    .any(|r| r.peer.to_string() == group_id)
            };
            Ok(s.groups.iter().filter(names).cloned().collect())
        })
    }

    async fn vpc_has_ipv6(&self, vpc_id: &str) -> Result<bool> {
        self.with("DescribeVpcs", |s| {
            Ok(s.dual_stack_vpcs.iter().any(|v| v == vpc_id))
        })
    }

    async fn interfaces_using(&self, group_id: &str) -> Result<Vec<Interface>> {
        self.with("DescribeNetworkInterfaces", |s| {
            let ids = s.interfaces.get(group_id).cloned().unwrap_or_default();
            Ok(ids
                .into_iter()
                .map(|id| Interface {
                    id,
                    ..Default::default()
                })
                .collect())
        })
    }

    async fn parameters_under(&self, prefix: &str) -> Result<BTreeMap<String, String>> {
        self.with("GetParametersByPath", |s| {
            Ok(s.parameters
                .iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .map(|(k, v)| (k.clone(), v.value.clone()))
                .collect())
        })
    }

    async fn parameter(&self, name: &str) -> Result<Option<String>> {
        self.with("GetParameter", |s| {
            Ok(s.parameters.get(name).map(|p| p.value.clone()))
        })
    }

    async fn parameter_tags(&self, name: &str) -> Result<BTreeMap<String, String>> {
        self.with("ListTagsForResource", |s| {
            s.parameters
                .get(name)
                .map(|p| p.tags.clone())
                .ok_or_else(|| service("ListTagsForResource", "InvalidResourceId"))
        })
    }

    async fn create_group(
        &self,
        vpc_id: &str,
        name: &str,
        description: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String> {
        self.with("CreateSecurityGroup", |s| {
            if s.groups.iter().any(|g| g.vpc_id == vpc_id && g.name == name) {
                return Err(service("CreateSecurityGroup", "InvalidGroup.Duplicate"));
            }
            s.next_id += 1;
            let id = format!("sg-{:08x}", s.next_id);
            let mut egress = vec![default_egress()];
            if s.dual_stack_vpcs.iter().any(|v| v == vpc_id) {
                egress.push(default_egress_v6());
            }
            s.groups.push(ObservedGroup {
                id: id.clone(),
                name: name.into(),
                vpc_id: vpc_id.into(),
                description: description.into(),
                tags: tags.clone(),
                ingress: vec![],
                egress,
            });
            Ok(id)
        })
    }

    async fn authorize(&self, group_id: &str, direction: Direction, rules: &[Rule]) -> Result<()> {
        let op = by_direction(
            direction,
            "AuthorizeSecurityGroupIngress",
            "AuthorizeSecurityGroupEgress",
        );
        self.with(op, |s| {
            let missing = rules.iter().any(|r| match &r.peer {
                ConcretePeer::Group(GroupRef::Existing(id)) => !s.groups.iter().any(|g| g.id == *id),
                _ => false,
            });
            if missing {
                return Err(service(op, "InvalidGroup.NotFound"));
            }
            let list = Self::rules_mut(Self::group_mut(s, group_id, op)?, direction);
            if rules.iter().any(|r| list.iter().any(|h| same(h, r))) {
                return Err(service(op, "InvalidPermission.Duplicate"));
            }
            list.extend(rules.iter().cloned());
            Ok(())
        })
    }

    async fn revoke(&self, group_id: &str, direction: Direction, rules: &[Rule]) -> Result<()> {
        let op = by_direction(
            direction,
            "RevokeSecurityGroupIngress",
            "RevokeSecurityGroupEgress",
        );
        self.with(op, |s| {
            let list = Self::rules_mut(Self::group_mut(s, group_id, op)?, direction);
            if !rules.iter().all(|r| list.iter().any(|h| same(h, r))) {
                return Err(service(op, "InvalidPermission.NotFound"));
            }
            list.retain(|h| !rules.iter().any(|r| same(h, r)));
            Ok(())
        })
    }

    async fn update_descriptions(&self, group_id: &str, direction: Direction, rules: &[Rule]) -> Result<()> {
        let op = by_direction(
            direction,
            "UpdateSecurityGroupRuleDescriptionsIngress",
            "UpdateSecurityGroupRuleDescriptionsEgress",
        );
        self.with(op, |s| {
            let list = Self::rules_mut(Self::group_mut(s, group_id, op)?, direction);
            for rule in rules {
                if let Some(h) = list.iter_mut().find(|h| same(h, rule)) {
                    h.description = rule.description.clone();
                }
            }
            Ok(())
        })
    }

    async fn tag_group(&self, group_id: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        self.with("CreateTags", |s| {
            let g = Self::group_mut(s, group_id, "CreateTags")?;
            g.tags.extend(tags.clone());
            Ok(())
        })
    }

    async fn untag_group(&self, group_id: &str, keys: &[String]) -> Result<()> {
        self.with("DeleteTags", |s| {
            let g = Self::group_mut(s, group_id, "DeleteTags")?;
            g.tags.retain(|k, _| !keys.contains(k));
            Ok(())
        })
    }

    async fn delete_group(&self, group_id: &str) -> Result<()> {
        self.with("DeleteSecurityGroup", |s| {
            let referenced = s.groups.iter().any(|g| {
                g.id != group_id
                    && g.ingress
                        .iter()
                        .chain(&g.egress)
                        .any(|r| r.peer.to_string() == group_id)
            });
            if referenced || s.interfaces.get(group_id).is_some_and(|i| !i.is_empty()) {
                return Err(service("DeleteSecurityGroup", "DependencyViolation"));
            }
            s.groups.retain(|g| g.id != group_id);
            Ok(())
        })
    }

    async fn create_parameter(&self, name: &str, value: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        self.with("PutParameter", |s| {
            if s.parameters.contains_key(name) {
                return Err(service("PutParameter", "ParameterAlreadyExists"));
            }
            let p = FakeParameter {
                value: value.into(),
                tags: tags.clone(),
            };
            s.parameters.insert(name.into(), p);
            Ok(())
        })
    }

    async fn overwrite_parameter(&self, name: &str, value: &str) -> Result<()> {
        self.with("PutParameter", |s| {
            s.parameters.entry(name.into()).or_default().value = value.into();
            Ok(())
        })
    }

    async fn tag_parameter(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        self.with("AddTagsToResource", |s| {
            let p = s
                .parameters
                .get_mut(name)
                .ok_or_else(|| service("AddTagsToResource", "InvalidResourceId"))?;
            p.tags.extend(tags.clone());
            Ok(())
        })
    }

    async fn untag_parameter(&self, name: &str, keys: &[String]) -> Result<()> {
        self.with("RemoveTagsFromResource", |s| {
            let p = s
                .parameters
                .get_mut(name)
                .ok_or_else(|| service("RemoveTagsFromResource", "InvalidResourceId"))?;
            p.tags.retain(|k, _| !keys.contains(k));
            Ok(())
        })
    }

    async fn delete_parameter(&self, name: &str) -> Result<()> {
        self.with("DeleteParameter", |s| {
            s.parameters.remove(name);
            Ok(())
        })
    }
}
