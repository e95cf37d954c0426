//! The jobs commands' facts table agrees with the commands serde and the schema know.

#[test]
fn every_jobs_command_has_facts() {
    ro_policy::testing::check_command_facts::<ro_jobs::JobsCommand, ()>(
        ro_jobs::JobsCommand::FACTS,
    )
    .unwrap();
}
