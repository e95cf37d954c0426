//! The policy commands' facts table agrees with the commands serde and the schema know.

#[test]
fn every_policy_command_has_facts() {
    ro_policy::testing::check_command_facts::<ro_policy::PolicyCommand, ro_policy::Room>(
        ro_policy::PolicyCommand::FACTS,
    )
    .unwrap();
}

#[test]
fn change_status_names_are_their_serialized_tags() {
    use ro_policy::ChangeStatus as S;
    let Some(by) = ro_core::ActorId::new("carol").ok() else {
        panic!("a sample actor")
    };
    let version = ro_policy::BaselineVersion { major: 2, minor: 1 };
    for status in [
        S::Requested,
        S::Reviewed { by: by.clone() },
        S::Approved { by: by.clone() },
        S::Rejected { by },
        S::Applied { version },
    ] {
        let value = serde_json::to_value(&status).ok();
        assert_eq!(
            value
                .as_ref()
                .and_then(|v| v.get("status"))
                .and_then(|v| v.as_str()),
            Some(status.name())
        );
    }
}
