//! The shared view a resync reads: every group with this cluster's tag, fetched once per
//! window for all the sets of a region (one paginated DescribeSecurityGroups) instead of one
//! call per set. A resync whose set matches the view (and its parameters, still read per set:
//! a path read of every set's parameters costs a call per 10) is done with that one call of its
//! own; one that finds a difference observes the set afresh before it writes anything (the
//! view may be older than the set's own last write), so the view only ever saves calls, never
//! decides a write.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Error;
use crate::aws::AwsApi;
use crate::diff::{Observed, ObservedGroup, ObservedParameter};
use crate::model::Ownership;

/// One fetch of the cluster's groups and parameters.
#[derive(Debug)]
pub struct View {
    fetched: Instant,
    groups: Vec<ObservedGroup>,
}

impl View {
    /// What a per-set observation would have found, with the set's `parameters` (name → value).
    pub fn observed(&self, ownership: &Ownership, parameters: BTreeMap<String, String>) -> Observed {
        let groups = self
            .groups
            .iter()
            .filter(|g| ownership.owns(&g.tags))
            .cloned()
            .collect();
        let parameters = parameters
            .into_iter()
            .map(|(name, value)| (name, ObservedParameter { value, tags: None }))
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
        let view = Arc::new(View {
            fetched: Instant::now(),
            groups: aws.cluster_groups(cluster).await?,
        });
        *current = Some(view.clone());
        Ok(view)
    }
}
