//! `dora-events validate`: checks CloudEvent and CDEvent files against the specs, with the same
//! parsing and schema validation ingest uses, and says where each problem is.
//!
//! A file holds one event (JSON), an array of events, or JSON Lines. An object with `specversion`
//! is a CloudEvent (and its data is checked as a CDEvent when its type is `dev.cdevents.*`); an
//! object with `context` is a bare CDEvent.

use std::path::Path;

use dora_model::cloudevent::{CloudEvent, Data};
use serde_json::Value;

use crate::documents::{documents, is_bare_cdevent};

/// The verdict on one event of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `file`, or `file[i]` for the i-th event of an array or of JSON Lines.
    pub location: String,
    /// What the event is (`CloudEvent <type>`, `CDEvent <type> (v0.5.1)`), when it could tell.
    pub kind: String,
    /// `None` when valid; else the field at fault and what is wrong.
    pub problem: Option<(String, String)>,
}

fn cdevent_verdict(document: &Value, prefix: &str) -> (String, Option<(String, String)>) {
    match dora_spec::validate(document) {
        Ok(valid) => (
            format!("CDEvent {} (v{})", valid.event_type, valid.release.as_str()),
            None,
        ),
        Err(error) => (
            "CDEvent".to_owned(),
            Some((format!("{prefix}{}", error.field()), error.to_string())),
        ),
    }
}

fn event_verdict(location: String, value: Value) -> Verdict {
    if is_bare_cdevent(&value) {
        let (kind, problem) = cdevent_verdict(&value, "");
        return Verdict {
            location,
            kind,
            problem,
        };
    }
    match CloudEvent::from_json_value(value) {
        Err(error) => Verdict {
            location,
            kind: "CloudEvent".into(),
            problem: Some((error.attribute, error.message)),
        },
        Ok(event) if event.event_type.starts_with("dev.cdevents.") => {
            let document = match &event.data {
                Some(Data::Json(document)) => document.clone(),
                _ => {
                    return Verdict {
                        location,
                        kind: format!("CloudEvent {}", event.event_type),
                        problem: Some((
                            "data".into(),
                            "a dev.cdevents.* CloudEvent must carry a CDEvent as JSON data".into(),
                        )),
                    }
                }
            };
            let (kind, problem) = cdevent_verdict(&document, "/data");
            Verdict {
                location,
                kind: format!("CloudEvent carrying {kind}"),
                problem,
            }
        }
        Ok(event) => Verdict {
            location,
            kind: format!("CloudEvent {}", event.event_type),
            problem: None,
        },
    }
}

/// Checks every event of a file.
pub fn validate_file(path: &Path) -> Vec<Verdict> {
    let name = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            return vec![Verdict {
                location: name,
                kind: "file".into(),
                problem: Some(("file".into(), format!("cannot read it: {e}"))),
            }]
        }
    };
    match documents(&name, &text) {
        Err(problem) => vec![Verdict {
            location: name,
            kind: "file".into(),
            problem: Some(("body".into(), problem)),
        }],
        Ok(documents) => documents
            .into_iter()
            .map(|(location, document)| match document {
                Ok(value) => event_verdict(location, value),
                Err(problem) => Verdict {
                    location,
                    kind: "line".into(),
                    problem: Some(("body".into(), problem)),
                },
            })
            .collect(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn tells_valid_from_invalid_and_points_at_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/cdevents-spec/v0.5.1/conformance");
        let ok = validate_file(&fixtures.join("service_deployed.json"));
        assert_eq!(ok[0].problem, None);
        assert_eq!(
            ok[0].kind,
            "CDEvent dev.cdevents.service.deployed.0.3.0 (v0.5.1)"
        );

        let mut broken: Value = serde_json::from_str(
            &std::fs::read_to_string(fixtures.join("service_deployed.json")).unwrap(),
        )
        .unwrap();
        broken["subject"]["content"]
            .as_object_mut()
            .unwrap()
            .remove("artifactId");
        let wrapped = serde_json::json!({"specversion": "1.0", "id": "1", "source": "/s",
            "type": "dev.cdevents.service.deployed.0.3.0", "data": broken});
        let verdicts = validate_file(&write(dir.path(), "wrapped.json", &wrapped.to_string()));
        assert_eq!(
            verdicts[0].problem.as_ref().unwrap().0,
            "/data/subject/content/artifactId"
        );

        let lines = "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}\n{\"specversion\":\"1.0\",\"id\":\"\",\"source\":\"/s\",\"type\":\"t\"}\n";
        let verdicts = validate_file(&write(dir.path(), "events.jsonl", lines));
        assert_eq!(verdicts.len(), 2);
        assert_eq!(verdicts[0].problem, None);
        assert!(verdicts[1].location.ends_with("events.jsonl[1]"));
        assert_eq!(verdicts[1].problem.as_ref().unwrap().0, "id");

        let verdicts = validate_file(&write(dir.path(), "broken.json", "{nope"));
        assert_eq!(verdicts[0].problem.as_ref().unwrap().0, "body");
        assert!(validate_file(&dir.path().join("missing.json"))[0]
            .problem
            .is_some());
    }
}
