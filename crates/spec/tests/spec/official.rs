//! Every official example of v0.3.0, v0.4.1 and v0.5.1 validates, as its release and type.

use dora_spec::{validate, SpecRelease};

use crate::{fixture, fixtures_in};

/// Validates every fixture in `dir`, checking release and type; returns how many there were.
fn assert_all_valid(dir: &str, release: SpecRelease) -> usize {
    let files = fixtures_in(dir);
    for file in &files {
        assert_valid(file, release);
    }
    files.len()
}

fn assert_valid(file: &str, release: SpecRelease) {
    let event = fixture(file);
    let valid = validate(&event).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(valid.release, release, "{file}");
    assert_eq!(
        valid.event_type.to_string(),
        event["context"]["type"].as_str().unwrap(),
        "{file}"
    );
}

#[test]
fn every_v0_3_0_example_validates_as_v0_3_0() {
    assert_eq!(assert_all_valid("v0.3.0/examples", SpecRelease::V0_3_0), 39);
}

#[test]
fn every_v0_4_1_conformance_event_validates_as_v0_4_1() {
    assert_eq!(
        assert_all_valid("v0.4.1/conformance", SpecRelease::V0_4_1),
        45
    );
}

#[test]
fn every_v0_5_1_conformance_event_validates_as_v0_5_1() {
    assert_eq!(
        assert_all_valid("v0.5.1/conformance", SpecRelease::V0_5_1),
        45
    );
}

#[test]
fn the_v0_4_1_custom_conformance_event_validates_as_v0_4_1_despite_its_0_5_0_draft_version() {
    let file = "v0.4.1/custom/conformance.json";
    assert_eq!(fixture(file)["context"]["version"], "0.5.0-draft");
    assert_valid(file, SpecRelease::V0_4_1);
    let valid = validate(&fixture(file)).unwrap();
    assert!(valid.event_type.custom);
    assert_eq!(valid.event_type.subject, "mytool-resource");
    assert_eq!(valid.event_type.predicate, "created");
    assert_eq!(valid.event_type.version, "0.1.0");
}

#[test]
fn the_v0_5_1_custom_conformance_event_validates_as_v0_5_1() {
    let file = "v0.5.1/custom/conformance.json";
    assert_valid(file, SpecRelease::V0_5_1);
    assert!(validate(&fixture(file)).unwrap().event_type.custom);
}

#[test]
fn a_0_4_0_event_is_read_as_v0_4_1() {
    let mut event = fixture("v0.4.1/conformance/service_deployed.json");
    event["context"]["version"] = "0.4.0".into();
    assert_eq!(validate(&event).unwrap().release, SpecRelease::V0_4_1);
}

#[test]
fn validation_is_usable_from_many_threads_at_once() {
    let events: Vec<_> = fixtures_in("v0.5.1/conformance")
        .iter()
        .map(|file| fixture(file))
        .collect();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for event in &events {
                    assert_eq!(validate(event).unwrap().release, SpecRelease::V0_5_1);
                }
            });
        }
    });
}
