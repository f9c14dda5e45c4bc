//! `dora-events import`: bulk-loads CloudEvents from a file straight into the raw store, many
//! thousands per transaction, for a first load of history or a migration from another system.
//!
//! Input: JSON Lines (one event per line; blank lines are skipped) or one JSON array of events,
//! `-` for standard input. Each event is checked as `POST /events` checks it (CloudEvents 1.0
//! attributes, RFC 3339 `time`, no NUL) and kept exactly as written; a bare CDEvent (an object
//! with `context` and no `specversion`) is validated against its schema and wrapped as
//! `POST /cdevents` does. Invalid events are rejected with their line (or array index) and
//! reason; the others are stored. Events already stored (same `source` and `id`) are counted as
//! duplicates and stored once.
//!
//! A reader thread parses the next batch while the current one is being committed.
//!
//! # Resuming
//!
//! Each batch commits together with the position it reached (a byte offset for JSON Lines, an
//! element index for an array), recorded in the database's `cursors` table under
//! `import:<fingerprint of the first line>:<absolute path>`. Running the same import again reads
//! from there, so an interrupted import continues exactly after its last committed batch, and a
//! file that grew since is imported from where the last run stopped. `--from-start` ignores the
//! checkpoint (everything already stored is then counted as a duplicate, not stored twice).
//! Standard input cannot be resumed.
//!
//! # Afterwards
//!
//! Imported events wait in `cloudevents_raw` for the router like any other: a running `serve`
//! picks them up within `router.interval` (at once on PostgreSQL, where the commit notifies it),
//! and `serve --once` or `recompute` process them without a server.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use chrono::Utc;
use dora_model::cdevent::CdEvent;
use dora_model::cloudevent::CloudEvent;
use dora_store::{NewRawEvent, Origin, Store};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::documents::is_bare_cdevent;

/// Rejections listed one by one in the report; the rest are only counted.
const LISTED_REJECTIONS: usize = 50;

/// What to import, and how.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// A file, or `-` for standard input.
    pub path: PathBuf,
    /// Events per transaction.
    pub batch_size: usize,
    /// Ignore the checkpoint of an earlier run.
    pub from_start: bool,
    /// Larger events are rejected (`ingest.max_event_bytes`, as `POST /events` refuses them).
    pub max_event_bytes: usize,
    /// Draw a progress bar on standard error (only when it is a terminal).
    pub progress: bool,
}

/// An event that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// `line 17` (JSON Lines) or `[3]` (array index, from 0).
    pub location: String,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// Events read by this run (after the checkpoint).
    pub read: u64,
    /// Events stored by this run.
    pub imported: u64,
    /// Events already stored (same source and id).
    pub duplicates: u64,
    pub rejected: u64,
    /// The first rejections, with their location and reason.
    pub rejections: Vec<Rejection>,
    /// Where this run started, when it resumed an earlier one (`line 1001`, `[500]`).
    pub resumed_at: Option<String>,
    pub seconds: f64,
}

impl ImportReport {
    pub fn events_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.read as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// One batch from the reader, ready to commit.
struct Chunk {
    events: Vec<NewRawEvent>,
    rejections: Vec<Rejection>,
    /// Events read (stored or rejected).
    read: u64,
    /// The position after the batch (byte offset or element index).
    position: i64,
}

/// 64-bit FNV-1a: a fingerprint of a file's first line, so that another file at the same path
/// does not inherit its checkpoint.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// How a file holds its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Lines,
    Array,
}

/// Turns one event's JSON text into the raw store's row, or says why not (as ingest would).
fn parse_event(bytes: &[u8], max_event_bytes: usize) -> Result<NewRawEvent, String> {
    if bytes.len() > max_event_bytes {
        return Err(format!(
            "the event is {} bytes; the limit is {max_event_bytes} (ingest.max_event_bytes)",
            bytes.len()
        ));
    }
    // Checked as UTF-8 once here; serde_json then reads the str without checking again.
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let event = match attributes_only(text) {
        Some(checked) => checked?,
        None => {
            let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
            if is_bare_cdevent(&value) {
                return wrap_cdevent(value);
            }
            CloudEvent::from_json_value(value)
                .map_err(|e| format!("{}: {}", e.attribute, e.message))?
        }
    };
    Ok(NewRawEvent::received(
        event,
        text.to_owned(),
        Origin::Events,
    ))
}

/// The fast way to check a CloudEvent: only its attributes become JSON values, `data` (most of
/// an event's bytes) stays text. What `CloudEvent::from_json_value` checks of `data` needs no
/// tree: it is valid JSON (the parser saw it), and it holds no NUL when its text has no `\u0000`
/// escape (JSON cannot hold a raw one). `None` when this cannot decide (an escaped member name,
/// a `\u0000` in the data, not a CloudEvent-shaped object): the caller then parses it all.
fn attributes_only(text: &str) -> Option<Result<CloudEvent, String>> {
    let members: std::collections::BTreeMap<&str, &RawValue> = serde_json::from_str(text).ok()?;
    if !members.contains_key("specversion") {
        return None; // maybe a bare CDEvent; the full parse says what it is
    }
    let mut attributes = serde_json::Map::new();
    let mut has_data = false;
    for (name, raw) in members {
        let raw = raw.get();
        if name == "data" {
            if raw.contains("\\u0000") {
                return None;
            }
            has_data = raw != "null";
            continue;
        }
        attributes.insert(name.to_owned(), serde_json::from_str(raw).ok()?);
    }
    if has_data {
        // Stands in for the data, so that `data` with `data_base64` is still refused.
        attributes.insert("data".into(), Value::Bool(true));
    }
    Some(
        CloudEvent::from_json_value(Value::Object(attributes))
            .map_err(|e| format!("{}: {}", e.attribute, e.message)),
    )
}

/// A bare CDEvent, validated against its schema and wrapped into the CloudEvent `POST /cdevents`
/// would store for it (the CDEvent's id and source, so re-importing it is a duplicate).
fn wrap_cdevent(document: Value) -> Result<NewRawEvent, String> {
    dora_spec::validate(&document).map_err(|e| format!("{}: {e}", e.field()))?;
    let event = CdEvent::from_value(&document)
        .map_err(|e| e.to_string())?
        .into_cloudevent(document);
    event
        .check_storable()
        .map_err(|e| format!("{}: {}", e.attribute, e.message))?;
    Ok(NewRawEvent {
        content: event.to_json().to_string(),
        id: event.id,
        source: event.source,
        event_type: event.event_type,
        time: event.time,
        received_at: Utc::now(),
        origin: Origin::Cdevents,
    })
}

/// Adds one event (or its rejection) to the chunk being filled.
fn take(chunk: &mut Chunk, text: &[u8], location: impl FnOnce() -> String, max: usize) {
    chunk.read += 1;
    match parse_event(text, max) {
        Ok(event) => chunk.events.push(event),
        Err(reason) => chunk.rejections.push(Rejection {
            location: location(),
            reason,
        }),
    }
}

fn new_chunk(batch_size: usize) -> Chunk {
    Chunk {
        events: Vec::with_capacity(batch_size),
        rejections: Vec::new(),
        read: 0,
        position: 0,
    }
}

/// Reads JSON Lines from `reader` (already at byte `offset`, which is line `first_line`), sending
/// a chunk every `batch_size` events.
fn read_lines(
    mut reader: impl BufRead,
    mut offset: u64,
    first_line: u64,
    options: &ImportOptions,
    chunks: &mpsc::Sender<Chunk>,
) -> anyhow::Result<()> {
    let mut line = Vec::with_capacity(4096);
    let mut number = first_line;
    let mut chunk = new_chunk(options.batch_size);
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .context("Failed to read the input")?;
        if read == 0 {
            break;
        }
        offset += read as u64;
        let text = line.trim_ascii();
        if !text.is_empty() {
            take(
                &mut chunk,
                text,
                || format!("line {number}"),
                options.max_event_bytes,
            );
        }
        number += 1;
        if chunk.read as usize >= options.batch_size {
            chunk.position = offset as i64;
            let full = std::mem::replace(&mut chunk, new_chunk(options.batch_size));
            if chunks.blocking_send(full).is_err() {
                return Ok(()); // the writer stopped; it reports why
            }
        }
    }
    chunk.position = offset as i64;
    let _ = chunks.blocking_send(chunk);
    Ok(())
}

/// Reads the elements of a JSON array from `skip` on.
fn read_array(
    text: &str,
    skip: usize,
    options: &ImportOptions,
    chunks: &mpsc::Sender<Chunk>,
) -> anyhow::Result<()> {
    let items: Vec<&RawValue> =
        serde_json::from_str(text).context("The input starts with [ but is not a JSON array")?;
    let mut chunk = new_chunk(options.batch_size);
    for (index, item) in items.iter().enumerate().skip(skip) {
        take(
            &mut chunk,
            item.get().as_bytes(),
            || format!("[{index}]"),
            options.max_event_bytes,
        );
        if chunk.read as usize >= options.batch_size {
            chunk.position = index as i64 + 1;
            let full = std::mem::replace(&mut chunk, new_chunk(options.batch_size));
            if chunks.blocking_send(full).is_err() {
                return Ok(());
            }
        }
    }
    chunk.position = items.len() as i64;
    let _ = chunks.blocking_send(chunk);
    Ok(())
}

/// The first line of a file (at most 4 KiB of it), skipping leading blank space, and the format.
fn peek(path: &Path) -> anyhow::Result<(Vec<u8>, Format)> {
    let mut head = vec![0; 4096];
    let mut file =
        File::open(path).with_context(|| format!("Failed to open {}", path.display()))?;
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    head.truncate(filled);
    let text = head.trim_ascii_start();
    let format = if text.first() == Some(&b'[') {
        Format::Array
    } else {
        Format::Lines
    };
    let first_line = text.split(|b| *b == b'\n').next().unwrap_or_default();
    Ok((first_line.to_vec(), format))
}

/// Counts the lines in the first `bytes` bytes of a file (for line numbers after a resume).
fn lines_before(path: &Path, bytes: u64) -> anyhow::Result<u64> {
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path)?).take(bytes);
    let mut count = 0;
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(count);
        }
        count += buffer.iter().filter(|b| **b == b'\n').count() as u64;
        let consumed = buffer.len();
        reader.consume(consumed);
    }
}

fn progress_bar(options: &ImportOptions, total: Option<u64>, unit_bytes: bool) -> ProgressBar {
    let target = if options.progress && std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(total, target);
    let template = match (total, unit_bytes) {
        (Some(_), true) => {
            "{elapsed_precise} [{wide_bar}] {bytes}/{total_bytes} ({bytes_per_sec}) {msg}"
        }
        (Some(_), false) => "{elapsed_precise} [{wide_bar}] {pos}/{len} {msg}",
        (None, _) => "{elapsed_precise} {spinner} {msg}",
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Imports the events of `options.path` into `store`.
pub async fn import(store: &Store, options: &ImportOptions) -> anyhow::Result<ImportReport> {
    let started = Instant::now();
    let mut report = ImportReport::default();
    // Two batches ahead: enough to keep the writer busy, little memory.
    let (sender, mut chunks) = mpsc::channel::<Chunk>(2);
    let reading = if options.path.as_os_str() == "-" {
        Reading::stdin(options, sender)
    } else {
        Reading::file(store, options, sender, &mut report).await?
    };
    let outcome = reading.commit(store, &mut chunks, &mut report).await;
    // Stop the reader (it fails its next send) before waiting for it.
    drop(chunks);
    let read = reading.reader.join();
    reading.bar.finish_and_clear();
    outcome?;
    match read {
        Ok(result) => result?,
        Err(_) => bail!("the reader thread panicked"),
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// A reader thread sending batches, and how the import shows and records its progress.
struct Reading {
    /// The checkpoint's cursor name (none for standard input, which cannot be resumed).
    checkpoint: Option<String>,
    bar: ProgressBar,
    reader: ReaderThread,
    /// The bar counts bytes (a file of lines), not events.
    by_bytes: bool,
}

impl Reading {
    /// Reads standard input, an array or lines by its first character, from the start.
    fn stdin(options: &ImportOptions, sender: mpsc::Sender<Chunk>) -> Self {
        let bar = progress_bar(options, None, false);
        let reader_options = options.clone();
        let reader = std::thread::spawn(move || {
            let stdin = std::io::stdin();
            let mut input = BufReader::with_capacity(1 << 20, stdin.lock());
            let starts_with_bracket = input
                .fill_buf()
                .map(|b| b.trim_ascii_start().first() == Some(&b'['))
                .unwrap_or(false);
            if starts_with_bracket {
                let mut text = String::new();
                input
                    .read_to_string(&mut text)
                    .context("Failed to read standard input")?;
                read_array(&text, 0, &reader_options, &sender)
            } else {
                read_lines(input, 0, 1, &reader_options, &sender)
            }
        });
        Self {
            checkpoint: None,
            bar,
            reader,
            by_bytes: false,
        }
    }

    /// Reads a file from its checkpoint (unless `from_start`), noting in `report` where it
    /// resumed.
    async fn file(
        store: &Store,
        options: &ImportOptions,
        sender: mpsc::Sender<Chunk>,
        report: &mut ImportReport,
    ) -> anyhow::Result<Self> {
        let path = std::fs::canonicalize(&options.path)
            .with_context(|| format!("Failed to open {}", options.path.display()))?;
        let (first_line, format) = peek(&path)?;
        let name = format!("import:{:016x}:{}", fnv1a(&first_line), path.display());
        let resume = if options.from_start {
            0
        } else {
            store
                .cursor(&name)
                .await
                .context("Failed to read the import checkpoint")?
                .seq
        };
        let resume = u64::try_from(resume).unwrap_or(0);
        let (bar, reader, by_bytes) =
            spawn_file_reader(format, &path, resume, options, sender, report)?;
        Ok(Self {
            checkpoint: Some(name),
            bar,
            reader,
            by_bytes,
        })
    }

    /// Stores the batches as they come, each with its checkpoint, and counts them in `report`.
    async fn commit(
        &self,
        store: &Store,
        chunks: &mut mpsc::Receiver<Chunk>,
        report: &mut ImportReport,
    ) -> anyhow::Result<()> {
        while let Some(chunk) = chunks.recv().await {
            let name = self
                .checkpoint
                .as_deref()
                .map(|name| (name, chunk.position));
            let new = store
                .import_raw(&chunk.events, name)
                .await
                .context("Failed to store a batch of events")?;
            report.imported += new;
            report.duplicates += chunk.events.len() as u64 - new;
            report.read += chunk.read;
            report.rejected += chunk.rejections.len() as u64;
            let room = LISTED_REJECTIONS.saturating_sub(report.rejections.len());
            report
                .rejections
                .extend(chunk.rejections.into_iter().take(room));
            // A file of lines shows bytes (its length is known), anything else events.
            match (self.by_bytes, u64::try_from(chunk.position)) {
                (true, Ok(offset)) => self.bar.set_position(offset),
                _ => self.bar.set_position(report.read),
            }
            self.bar.set_message(format!("{} events", report.read));
        }
        Ok(())
    }
}

/// The thread reading the input and sending its batches.
type ReaderThread = std::thread::JoinHandle<anyhow::Result<()>>;

/// Starts reading `path` from `resume`: a file of JSON Lines from that byte, with a bar of bytes
/// (`true`), or one JSON array from that element, with a bar of events.
fn spawn_file_reader(
    format: Format,
    path: &Path,
    resume: u64,
    options: &ImportOptions,
    sender: mpsc::Sender<Chunk>,
    report: &mut ImportReport,
) -> anyhow::Result<(ProgressBar, ReaderThread, bool)> {
    let reader_options = options.clone();
    match format {
        Format::Lines => {
            let length = std::fs::metadata(path)?.len();
            let first_line_number = if resume > 0 {
                let lines = lines_before(path, resume)?;
                report.resumed_at = Some(format!("line {}", lines + 1));
                lines + 1
            } else {
                1
            };
            let bar = progress_bar(options, Some(length), true);
            bar.set_position(resume.min(length));
            let mut file = File::open(path)?;
            file.seek(SeekFrom::Start(resume))?;
            let reader = std::thread::spawn(move || {
                let input = BufReader::with_capacity(1 << 20, file);
                read_lines(input, resume, first_line_number, &reader_options, &sender)
            });
            Ok((bar, reader, true))
        }
        Format::Array => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("Failed to read {}", path.display()))?;
            if resume > 0 {
                report.resumed_at = Some(format!("[{resume}]"));
            }
            let bar = progress_bar(options, None, false);
            let reader = std::thread::spawn(move || {
                read_array(&text, resume as usize, &reader_options, &sender)
            });
            Ok((bar, reader, false))
        }
    }
}

/// Writes `count` synthetic, unique CloudEvents as JSON Lines to `path`, for benchmarks: build
/// results of fifty services over a year, about 420 bytes each.
pub fn write_sample(path: &Path, count: u64) -> anyhow::Result<()> {
    use std::io::Write;
    let file =
        File::create(path).with_context(|| format!("Failed to create {}", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut rng = crate::demo::SplitMix64::new(count);
    let start = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    for n in 0..count {
        let service = n % 50;
        let at = start + chrono::Duration::seconds((n * 31_536_000 / count.max(1)) as i64);
        let event = serde_json::json!({
            "specversion": "1.0",
            "id": format!("build-{n:010}"),
            "source": format!("https://ci.example.com/svc-{service}"),
            "type": "com.example.ci.build.finished",
            "subject": format!("svc-{service}/builds/{n}"),
            "time": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "datacontenttype": "application/json",
            "data": {
                "service": format!("svc-{service}"),
                "revision": rng.hex(40),
                "branch": "main",
                "outcome": if rng.chance(0.9) { "success" } else { "failure" },
                "durationSeconds": rng.between(40, 900),
                "url": format!("https://ci.example.com/svc-{service}/builds/{n}"),
            },
        });
        writeln!(out, "{event}").context("Failed to write the sample")?;
    }
    out.flush().context("Failed to write the sample")?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_cloudevent_is_kept_as_written_and_a_bad_one_is_refused_with_its_attribute() {
        let text = br#"{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"2024-01-01T00:00:00+01:00"}"#;
        let event = parse_event(text, 1 << 20).unwrap();
        assert_eq!(event.content.as_bytes(), text);
        assert_eq!(event.origin, Origin::Events);
        let reason = parse_event(
            br#"{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"soon"}"#,
            1 << 20,
        )
        .unwrap_err();
        assert!(reason.starts_with("time: "), "{reason}");
        assert!(parse_event(b"{not json", 1 << 20)
            .unwrap_err()
            .starts_with("not JSON"));
        assert!(parse_event(text, 10).unwrap_err().contains("limit is 10"));
    }

    /// The fast check accepts and refuses exactly what the full parse does.
    #[test]
    fn checking_attributes_only_agrees_with_the_full_parse() {
        let cases = [
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a":[1,2,{"b":"c"}]}}"#,
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":null}"#,
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":"x","datacontenttype":"text/plain"}"#,
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a":"x\u0000y"}}"#,
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a\u0000":1}}"#,
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a":"\\u0000"}}"#,
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":"x\u0000","datacontenttype":"text/plain"}"#,
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":1,"data_base64":"eA=="}"#,
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":null,"data_base64":"eA=="}"#,
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"not base64!"}"#,
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"2024-02-30T00:00:00Z"}"#,
            r#"{"specversion":"1.0","id":"","source":"/s","type":"t"}"#,
            r#"{"specversion":"0.3","id":"1","source":"/s","type":"t"}"#,
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","Bad-Name":"x"}"#,
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","ext":{"nested":1}}"#,
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","ext":3000000000}"#,
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","sub\u0000":"x"}"#,
            r#"{"specversion":"1.0","id":"1","source":"/s\u0000","type":"t"}"#,
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":1,"data":2}"#,
            r#"{"specversion":"1.0","id":"1","id":"2","source":"/s","type":"t"}"#,
            r#"{"specversion":1.0,"id":"1","source":"/s","type":"t"}"#,
            r#"["specversion"]"#,
        ];
        // The fast check decides the usual events, and leaves NUL escapes to the full parse.
        for decided in [0, 1, 2, 7, 9, 11] {
            assert!(
                attributes_only(cases[decided]).is_some(),
                "{}",
                cases[decided]
            );
        }
        for undecided in [3, 5] {
            assert!(
                attributes_only(cases[undecided]).is_none(),
                "{}",
                cases[undecided]
            );
        }
        for case in cases {
            let full = serde_json::from_str::<Value>(case)
                .map_err(|e| e.to_string())
                .and_then(|v| CloudEvent::from_json_value(v).map_err(|e| e.to_string()));
            let fast = attributes_only(case);
            if let Some(fast) = fast {
                match (&full, &fast) {
                    (Ok(a), Ok(b)) => assert_eq!(
                        (&a.id, &a.source, &a.event_type, a.time),
                        (&b.id, &b.source, &b.event_type, b.time),
                        "{case}"
                    ),
                    (Err(_), Err(_)) => {}
                    _ => panic!("{case}: full {full:?}, fast {fast:?}"),
                }
            }
            assert_eq!(
                parse_event(case.as_bytes(), 1 << 20).is_ok(),
                full.is_ok(),
                "{case}"
            );
        }
    }

    #[test]
    fn fingerprints_differ_for_different_first_lines() {
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    }
}
