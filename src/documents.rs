//! The events files the commands read (`send`, `validate`, `transform`, `import`): one JSON
//! document, a JSON array of them, or JSON Lines, from a file or standard input (`-`), and
//! whether a document is a bare CDEvent or a CloudEvent.

use std::io::Read as _;
use std::path::Path;

use anyhow::Context;
use serde_json::Value;

/// A bare CDEvent (a `context` and no CloudEvents `specversion`), not a CloudEvent.
pub fn is_bare_cdevent(value: &Value) -> bool {
    value.get("context").is_some() && value.get("specversion").is_none()
}

/// The text of the file at `path`, or of standard input for `-`.
pub fn read_text(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("Failed to read standard input")?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("Failed to read {}", path.display()))
    }
}

/// One JSON document of an events file: its location (`file`, or `file[i]` for the i-th event
/// of an array or of JSON Lines) and the document, or why the text is not JSON.
pub type Document = (String, Result<Value, String>);

/// The events of a file's text: one JSON value, a JSON array of them, or JSON Lines. `Err` when
/// the whole text is not JSON (a single broken document).
pub fn documents(name: &str, text: &str) -> Result<Vec<Document>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => Ok(items
            .into_iter()
            .enumerate()
            .map(|(i, item)| (format!("{name}[{i}]"), Ok(item)))
            .collect()),
        Ok(value) => Ok(vec![(name.to_owned(), Ok(value))]),
        Err(whole) => {
            // JSON Lines, or broken JSON.
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            if lines.len() < 2 {
                return Err(format!("not valid JSON: {whole}"));
            }
            Ok(lines
                .into_iter()
                .enumerate()
                .map(|(i, line)| {
                    (
                        format!("{name}[{i}]"),
                        serde_json::from_str::<Value>(line)
                            .map_err(|e| format!("not valid JSON: {e}")),
                    )
                })
                .collect())
        }
    }
}
