//! Batch mode (`application/cloudevents-batch+json`): the body alone, a JSON array of events.
//! A batch is accepted whole or refused whole; every accepted event reads back as stored.
#![no_main]

use dora_fuzz::assert_stored_form_reads_back;
use dora_ingest::binding::{parse_events, ContentMode};
use http::{header, HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/cloudevents-batch+json"),
    );
    match parse_events(ContentMode::Batch, &headers, body) {
        Ok(events) => {
            for received in &events {
                let _ = assert_stored_form_reads_back(&received.event, &received.content);
            }
        }
        Err(problem) => {
            assert_eq!(problem.status, 400, "{problem:?}");
            if let Some(index) = problem.index {
                // The batch is split into raw items first: an index names one of them (which
                // may still not parse, e.g. a string with a lone surrogate escape).
                let items: Vec<&serde_json::value::RawValue> =
                    serde_json::from_slice(body).expect("an index names an item of an array");
                assert!(index < items.len());
            }
        }
    }
});
