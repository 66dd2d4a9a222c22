//! The ObserveOnly management policy: a plan in the status, no AWS writes.

use serde_json::json;

use crate::support::controller::Controller;
use crate::support::fixture::{Fixture, condition, current};
use crate::support::sg::solo_spec;

#[tokio::test]
async fn observe_only_writes_nothing_and_reports_the_plan() {
    let f = Fixture::new("observe").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    let mut spec = solo_spec();
    spec["managementPolicy"] = json!("ObserveOnly");
    f.apply(&f.set("watcher", spec)).await;
    let observed = f
        .wait_for("watcher", "a plan", |s| {
            current(s) && s.status.as_ref().is_some_and(|st| !st.plan.is_empty())
        })
        .await;
    let plan = &observed.status.as_ref().unwrap().plan;
    assert!(
        plan.iter().any(|p| p.contains("create group watcher-solo")),
        "{plan:?}"
    );
    assert!(
        plan.iter()
            .any(|p| p.contains("parameter /sg/watcher/solo/SecurityGroupId")),
        "{plan:?}"
    );
    assert_eq!(condition(&observed, "Ready").unwrap().1, "ObserveOnly");
    assert_eq!(f.writes().await, 0);
}
