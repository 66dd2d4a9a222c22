//! The shared view a resync reads: every group with this cluster's tag and every parameter
//! under `/sg/`, fetched once per window for all the sets of a region (one paginated
//! DescribeSecurityGroups, 200 groups a page, and one paginated GetParametersByPath, 10
//! parameters a page: about 0.3 calls per 3-tier set) instead of two calls per set. A resync
//! whose set matches the view makes no call of its own; one that finds a difference observes
//! the set afresh before it writes anything (the view may be older than the set's own last
//! write), so the view only ever saves calls, never decides a write.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Error;
use crate::aws::AwsApi;
use crate::diff::compact::CompactGroup;
use crate::diff::{Observed, ObservedParameter};
use crate::model::{OWNER_TAG, Ownership};

/// One fetch of the cluster's groups and parameters.
#[derive(Debug)]
pub struct View {
    fetched: Instant,
    /// By owner tag (`{namespace}/{set}`): a set's resync looks up its own groups, not all.
    groups: BTreeMap<String, Box<[CompactGroup]>>,
    /// Every parameter under [`PARAMETER_ROOT`], name → value.
    parameters: BTreeMap<String, String>,
}

/// Where every set's parameters are (`/sg/{set}/{tier}/SecurityGroupId`).
pub const PARAMETER_ROOT: &str = "/sg/";

impl View {
    /// What a per-set observation would have found (its parameters: those under `prefix`).
    pub fn observed(&self, ownership: &Ownership, prefix: &str) -> Observed {
        let groups = self
            .groups
            .get(&ownership.owner)
            .into_iter()
            .flatten()
            .map(CompactGroup::expand)
            .filter(|g| ownership.owns(&g.tags))
            .collect();
        let parameters = self
            .parameters
            .range(prefix.to_string()..)
            .take_while(|(name, _)| name.starts_with(prefix))
            .map(|(name, value)| {
                (
                    name.clone(),
                    ObservedParameter {
                        value: value.clone(),
                        tags: None,
                    },
                )
            })
            .collect();
        Observed {
            groups,
            parameters,
            ..Observed::default()
        }
    }
}

/// The current view of one region, refreshed when older than `window`.
pub struct SharedView {
    window: Duration,
    current: tokio::sync::Mutex<Option<Arc<View>>>,
}

impl SharedView {
    pub fn new(window: Duration) -> Self {
        SharedView {
            window,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// The view, fetched now if there is none younger than the window. Concurrent callers wait
    /// for one fetch rather than each making their own.
    pub async fn get<A: AwsApi>(&self, aws: &A, cluster: &str) -> Result<Arc<View>, Error> {
        let mut current = self.current.lock().await;
        if let Some(view) = current.as_ref().filter(|v| v.fetched.elapsed() < self.window) {
            return Ok(view.clone());
        }
        // Let go of the old view before reading the new one (a reconcile still using it keeps
        // it until it ends): at the peak, one view in memory rather than two.
        current.take();
        let fetched = Instant::now();
        let (groups, parameters) =
            futures::try_join!(aws.cluster_groups(cluster), aws.parameters_under(PARAMETER_ROOT))?;
        let view = Arc::new(View {
            fetched,
            groups: by_owner(groups),
            parameters,
        });
        *current = Some(view.clone());
        Ok(view)
    }
}

/// The groups by owner tag.
fn by_owner(groups: Vec<CompactGroup>) -> BTreeMap<String, Box<[CompactGroup]>> {
    let mut by_owner: BTreeMap<String, Vec<CompactGroup>> = BTreeMap::new();
    for g in groups {
        let owner = g.tag(OWNER_TAG).unwrap_or_default().to_string();
        by_owner.entry(owner).or_default().push(g);
    }
    by_owner
        .into_iter()
        .map(|(owner, gs)| (owner, gs.into_boxed_slice()))
        .collect()
}
