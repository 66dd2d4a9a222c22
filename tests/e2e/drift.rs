//! Out-of-band changes to rules, parameters, tags and groups are reverted and reported.

use std::time::Duration;

use aws_sdk_ec2::types::{IpPermission, IpRange};
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams};

use crate::support::aws::tcp_from_world;
use crate::support::controller::Controller;
use crate::support::fixture::{Fixture, group_id};
use crate::support::poll_async;
use crate::support::sg::{r, rules, solo_spec, tags};

#[tokio::test]
async fn drift_is_reverted_and_reported_as_an_event() {
    let f = Fixture::new("drift").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "1s"]);
    f.apply(&f.set("drifty", solo_spec())).await;
    let ready = f.wait_ready("drifty").await;
    let id = group_id(&ready, "solo");
    let param = "/sg/drifty/solo/SecurityGroupId";

    // A rule added out of band is revoked; a rule removed is restored.
    let extra = tcp_from_world(22);
    f.ec2
        .authorize_security_group_ingress()
        .group_id(&id)
        .ip_permissions(extra)
        .send()
        .await
        .unwrap();
    let want = vec![r("tcp", 443, "10.1.0.0/16", "https")];
    poll_async(Duration::from_secs(30), "the stray rule revoked", || async {
        let g = f.groups("drifty").await.remove("solo")?;
        (rules(g.ip_permissions()) == want).then_some(())
    })
    .await;
    let ours = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(443)
        .to_port(443)
        .ip_ranges(IpRange::builder().cidr_ip("10.1.0.0/16").build())
        .build();
    f.ec2
        .revoke_security_group_ingress()
        .group_id(&id)
        .ip_permissions(ours)
        .send()
        .await
        .unwrap();
    poll_async(Duration::from_secs(30), "the missing rule restored", || async {
        let g = f.groups("drifty").await.remove("solo")?;
        (rules(g.ip_permissions()) == want).then_some(())
    })
    .await;

    // A parameter changed, then deleted, out of band is restored.
    f.ssm
        .put_parameter()
        .name(param)
        .value("sg-00000000")
        .overwrite(true)
        .send()
        .await
        .unwrap();
    poll_async(Duration::from_secs(30), "the parameter restored", || async {
        (f.parameter(param).await == Some(id.clone())).then_some(())
    })
    .await;
    f.ssm.delete_parameter().name(param).send().await.unwrap();
    poll_async(Duration::from_secs(30), "the parameter recreated", || async {
        (f.parameter(param).await == Some(id.clone())).then_some(())
    })
    .await;

    // A tag changed and a tag added out of band are put back and removed.
    let tag = |k: &str, v: &str| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build();
    f.ec2
        .create_tags()
        .resources(&id)
        .tags(tag("ManagedBy", "someone"))
        .tags(tag("stray", "x"))
        .send()
        .await
        .unwrap();
    poll_async(Duration::from_secs(30), "tags reconciled", || async {
        let t = tags(&f.groups("drifty").await.remove("solo")?);
        (t["ManagedBy"] == "sg-provisioner" && !t.contains_key("stray")).then_some(())
    })
    .await;

    // A group deleted out of band is recreated and its parameter follows.
    f.ec2.delete_security_group().group_id(&id).send().await.unwrap();
    let recreated = f
        .wait_for("drifty", "a new group id", |s| {
            s.status.as_ref().is_some_and(|st| {
                st.tiers
                    .iter()
                    .any(|t| t.security_group_id.as_deref().is_some_and(|g| g != id))
            })
        })
        .await;
    let new_id = group_id(&recreated, "solo");
    poll_async(Duration::from_secs(30), "the parameter to follow", || async {
        (f.parameter(param).await == Some(new_id.clone())).then_some(())
    })
    .await;
    assert_eq!(f.group_count("drifty").await, 1);

    let events: Api<Event> = Api::namespaced(f.client.clone(), &f.ns);
    let list = events.list(&ListParams::default()).await.unwrap();
    assert!(
        list.items
            .iter()
            .any(|e| e.reason.as_deref() == Some("DriftCorrected")),
        "a DriftCorrected Event"
    );
}
