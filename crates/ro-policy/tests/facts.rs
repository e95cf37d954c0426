//! The policy commands' facts table agrees with the commands serde and the schema know.

#[test]
fn every_policy_command_has_facts() {
    ro_policy::testing::check_command_facts::<ro_policy::PolicyCommand, ()>(
        ro_policy::PolicyCommand::FACTS,
    )
    .unwrap();
}
