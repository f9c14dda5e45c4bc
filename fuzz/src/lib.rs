//! Helpers shared by the fuzz targets of dora-events (see `docs/fuzzing.md`).
//!
//! Requests are fuzzed in an HTTP-like text form, so that seeds are easy to write and to read:
//!
//! ```text
//! content-type: application/json
//! ce-specversion: 1.0
//!
//! {"the": "body"}
//! ```
//!
//! Lines of `name: value` up to the first empty line are the headers (a line that is not a valid
//! header is skipped, as an HTTP server would refuse the request before ingest sees it); what
//! follows the empty line is the body, byte for byte.

use dora_model::cloudevent::CloudEvent;
use http::{HeaderMap, HeaderName, HeaderValue};

/// Splits a fuzz input into its headers and its body.
pub fn split_request(data: &[u8]) -> (HeaderMap, &[u8]) {
    let mut headers = HeaderMap::new();
    let mut rest = data;
    loop {
        let (line, next) = split_line(rest);
        if line.is_empty() {
            return (headers, next.unwrap_or_default());
        }
        add_header(&mut headers, line);
        match next {
            Some(next) => rest = next,
            None => return (headers, &[]),
        }
    }
}

/// The first line (without its `\n` or `\r\n`) and what follows it, if there was a newline.
pub fn split_line(data: &[u8]) -> (&[u8], Option<&[u8]>) {
    let (line, next) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    (line.strip_suffix(b"\r").unwrap_or(line), next)
}

fn add_header(headers: &mut HeaderMap, line: &[u8]) {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return;
    };
    let name = line[..colon].trim_ascii();
    let value = line[colon + 1..].trim_ascii();
    if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
        headers.append(name, value);
    }
}

/// What the raw store keeps for an accepted event must be what the router can read back
/// (`CloudEvent::from_json_bytes` on the stored content), with the same indexed columns.
/// Returns the event as the router reads it.
pub fn assert_stored_form_reads_back(event: &CloudEvent, content: &str) -> CloudEvent {
    let again = match CloudEvent::from_json_bytes(content.as_bytes()) {
        Ok(again) => again,
        Err(e) => panic!("accepted event does not read back ({e}): {content}"),
    };
    assert_eq!(again.id, event.id, "id of {content}");
    assert_eq!(again.source, event.source, "source of {content}");
    assert_eq!(again.event_type, event.event_type, "type of {content}");
    assert_eq!(again.time, event.time, "time of {content}");
    assert_eq!(again.subject, event.subject, "subject of {content}");
    again
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_then_body() {
        let (headers, body) =
            split_request(b"Content-Type: application/json\r\nce-id:  1 \n\n{\"a\":\n1}");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["ce-id"], "1");
        assert_eq!(body, b"{\"a\":\n1}");
        let (headers, body) = split_request(b"\n[]");
        assert!(headers.is_empty());
        assert_eq!(body, b"[]");
        let (headers, body) = split_request(b"x-a: 1");
        assert_eq!(headers.len(), 1);
        assert!(body.is_empty());
    }
}
