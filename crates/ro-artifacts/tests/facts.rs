//! The artifact commands' facts table agrees with the commands serde and the schema know.

#[test]
fn every_artifact_command_has_facts() {
    ro_policy::testing::check_command_facts::<ro_artifacts::ArtifactCommand, ro_artifacts::Room>(
        ro_artifacts::ArtifactCommand::FACTS,
    )
    .unwrap();
}
