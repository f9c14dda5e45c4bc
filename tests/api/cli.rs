//! The command line: `validate` and `config check` exit codes and messages.

use std::process::Command;

use crate::helpers::fixture_path;

fn dora_events(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_dora-events"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn validate_passes_official_examples_and_names_the_field_of_a_bad_event() {
    let good = fixture_path("cdevents-spec/v0.5.1/conformance/service_deployed.json");
    let (code, out, _) = dora_events(&["validate", good.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("ok (CDEvent dev.cdevents.service.deployed.0.3.0 (v0.5.1))"),
        "{out}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"[{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"soon"}]"#,
    )
    .unwrap();
    let (code, out, err) =
        dora_events(&["validate", good.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        out.contains("bad.json[0]: invalid CloudEvent at time"),
        "{out}"
    );
    assert!(err.contains("1 invalid"), "{err}");
}

#[test]
fn config_check_accepts_the_example_and_names_a_mistake() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dora-events.example.toml");
    let (code, out, err) = dora_events(&["config", "check", example.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("configuration is valid"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[routes]]\nname = \"r\"\ntype_prefix = \"x.\"\ntransformers = [\"jenkins\"]\n",
    )
    .unwrap();
    let (code, _, err) = dora_events(&["config", "check", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("jenkins"), "{err}");
}
