//! The AWS emulator answers as AWS does where moto does not, throttles when told to, and counts.

use std::time::Duration;

use aws_sdk_ec2::types::{IpPermission, UserIdGroupPair};
use serde_json::json;

use crate::support::aws::{Emulator, attach_interface, create_vpc, ec2, error_code};
use crate::support::{poll_async, unique};

async fn group(ec2: &aws_sdk_ec2::Client, vpc_id: &str, name: &str) -> String {
    ec2.create_security_group()
        .vpc_id(vpc_id)
        .group_name(name)
        .description("e2e")
        .send()
        .await
        .unwrap()
        .group_id
        .unwrap()
}

#[tokio::test]
async fn deleting_a_group_in_use_is_refused_with_dependency_violation() {
    let key = unique("AKIADEPVIOL");
    let ec2 = ec2(&key).await;
    let vpc_id = create_vpc(&ec2, "10.20.0.0/16").await;
    let referenced = group(&ec2, &vpc_id, &unique("referenced")).await;
    let referrer = group(&ec2, &vpc_id, &unique("referrer")).await;
    let permission = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(5432)
        .to_port(5432)
        .user_id_group_pairs(UserIdGroupPair::builder().group_id(&referenced).build())
        .build();
    ec2.authorize_security_group_ingress()
        .group_id(&referrer)
        .ip_permissions(permission.clone())
        .send()
        .await
        .unwrap();

    // Referenced by another group's rule.
    let err = ec2
        .delete_security_group()
        .group_id(&referenced)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&err).as_deref(),
        Some("DependencyViolation"),
        "{err:?}"
    );
    ec2.revoke_security_group_ingress()
        .group_id(&referrer)
        .ip_permissions(permission)
        .send()
        .await
        .unwrap();
    ec2.delete_security_group()
        .group_id(&referenced)
        .send()
        .await
        .expect("deletable once unreferenced");

    // Attached to a network interface.
    let eni_id = attach_interface(&ec2, &vpc_id, "10.20.1.0/24", &referrer).await;
    let err = ec2
        .delete_security_group()
        .group_id(&referrer)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&err).as_deref(),
        Some("DependencyViolation"),
        "{err:?}"
    );
    ec2.delete_network_interface()
        .network_interface_id(&eni_id)
        .send()
        .await
        .unwrap();
    ec2.delete_security_group()
        .group_id(&referrer)
        .send()
        .await
        .expect("deletable once detached");

    let counts = Emulator::for_key(&key).counts().await;
    assert_eq!(
        counts["by_operation"]["ec2"]["DeleteSecurityGroup"], 4,
        "{counts}"
    );
    assert_eq!(counts["errors"]["ec2"]["DependencyViolation"], 2, "{counts}");
}

#[tokio::test]
async fn throttling_answers_request_limit_exceeded_and_refills() {
    let key = unique("AKIATHROTTLE");
    let emulator = Emulator::for_key(&key);
    emulator
        .configure(json!({"throttle": {"enabled": true, "overrides": {"non_mutating": {"capacity": 3, "refill_per_sec": 2}}}}))
        .await;
    // No SDK retries: the test must see the emulator's raw answer.
    let config = crate::support::aws::sdk_config(&key).await;
    let ec2 = aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(&config)
            .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
            .build(),
    );

    let mut outcomes = Vec::new();
    for _ in 0..6 {
        outcomes.push(match ec2.describe_vpcs().send().await {
            Ok(_) => "ok".to_string(),
            Err(err) => error_code(&err).unwrap_or_else(|| format!("{err:?}")),
        });
    }
    assert_eq!(
        outcomes[..3],
        ["ok", "ok", "ok"],
        "the bucket holds 3 tokens: {outcomes:?}"
    );
    assert!(
        outcomes.iter().any(|o| o == "RequestLimitExceeded"),
        "an empty bucket throttles: {outcomes:?}"
    );

    // The bucket refills at 2 tokens a second.
    poll_async(Duration::from_secs(10), "the bucket to refill", || async {
        ec2.describe_vpcs().send().await.ok()
    })
    .await;
    emulator.clear().await;
    for _ in 0..10 {
        ec2.describe_vpcs().send().await.expect("throttling off again");
    }
}

#[tokio::test]
async fn counter_counts_requests_by_service_operation_and_kind() {
    let key = unique("AKIACOUNT");
    let emulator = Emulator::for_key(&key);
    let ec2 = ec2(&key).await;
    let before = emulator.counts().await;
    assert_eq!(before["total"], 0, "a new access key starts at zero: {before}");

    create_vpc(&ec2, "10.30.0.0/16").await;
    for _ in 0..3 {
        ec2.describe_vpcs().send().await.unwrap();
    }
    let counts = emulator.counts().await;
    assert_eq!(counts["by_operation"]["ec2"]["CreateVpc"], 1, "{counts}");
    assert_eq!(counts["by_operation"]["ec2"]["DescribeVpcs"], 3, "{counts}");
    assert_eq!(counts["writes"], 1, "{counts}");
    assert_eq!(counts["reads"], 3, "{counts}");
    assert_eq!(counts["total"], 4, "{counts}");
}
