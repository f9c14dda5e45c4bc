//! The CloudEvents HTTP binding: a request's headers and body, read in every content mode.
//!
//! Input: `name: value` header lines, an empty line, the body (see `dora_fuzz::split_request`).
//! The mode `content_mode` picks is tried, and the two others too (the parsers must hold up
//! whatever the headers say). Every event a mode accepts must be stored in a form the router
//! reads back with the same id, source, type, time and subject.
#![no_main]

use dora_fuzz::{assert_stored_form_reads_back, split_request};
use dora_ingest::binding::{content_mode, parse_events, ContentMode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (headers, body) = split_request(data);
    if let Err(problem) = content_mode(&headers) {
        assert_eq!(problem.status, 415);
        let _ = serde_json::to_vec(&problem);
    }
    for mode in [
        ContentMode::Binary,
        ContentMode::Structured,
        ContentMode::Batch,
    ] {
        match parse_events(mode, &headers, body) {
            Ok(events) => {
                for received in &events {
                    let _ = assert_stored_form_reads_back(&received.event, &received.content);
                }
            }
            Err(problem) => {
                assert_eq!(problem.status, 400, "{problem:?}");
                let _ = serde_json::to_vec(&problem);
            }
        }
    }
});
