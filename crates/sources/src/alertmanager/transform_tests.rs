//! Unit tests of the alertmanager transformer.

#![allow(clippy::unwrap_used)]
use super::*;

fn labels(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

#[test]
fn fingerprint_is_the_one_alertmanager_computes() {
    // zulip's fixture `alert.json`, first alert: labels and the fingerprint Alertmanager sent.
    let fingerprint = label_fingerprint(&labels(json!({
        "alertname": "High CPU Temperature",
        "host": "andromeda",
        "severity": "critical",
    })));
    assert_eq!(fingerprint.as_deref(), Ok("a1bc48475b20e73d"));
    // No labels at all: FNV-1a of nothing.
    assert_eq!(
        label_fingerprint(&Map::new()).as_deref(),
        Ok("cbf29ce484222325")
    );
    // The order of the labels in the payload does not matter; the values do.
    let a = label_fingerprint(&labels(json!({"a": "1", "b": "2"})));
    let b = label_fingerprint(&labels(json!({"b": "2", "a": "1"})));
    let c = label_fingerprint(&labels(json!({"a": "12", "b": ""})));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(
        label_fingerprint(&labels(json!({"a": 1}))),
        Err("a".to_owned())
    );
}

#[test]
fn ids_use_utc_start_times() {
    let starts_at = parse_rfc3339("2018-11-04T22:43:58.283995108+01:00").unwrap();
    assert_eq!(
        event_id("f", &starts_at, "firing"),
        "f/2018-11-04T21:43:58.283995108Z/firing"
    );
    assert!(!is_set(&parse_rfc3339("0001-01-01T00:00:00Z").unwrap()));
    assert!(is_set(&starts_at));
}
