//! The jobs commands' facts table agrees with the commands serde and the schema know.

#[test]
fn every_jobs_command_has_facts() {
    ro_policy::testing::check_command_facts::<ro_jobs::JobsCommand, ro_jobs::Room>(
        ro_jobs::JobsCommand::FACTS,
    )
    .unwrap();
}

#[test]
fn run_status_names_are_their_serialized_names() {
    use ro_jobs::RunStatus as S;
    for status in [S::Queued, S::Running, S::Succeeded, S::Failed, S::Cancelled] {
        assert_eq!(
            serde_json::to_value(status).ok(),
            Some(serde_json::Value::from(status.name()))
        );
    }
}
