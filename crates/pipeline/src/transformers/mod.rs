//! What routes name besides the sources' transformers: user-defined rules in jq syntax
//! ([`rules`]) and external functions, and [`TransformerRef`], the name of any of them in a
//! route. The built-in transformers are the sources' (`dora_sources`).

use dora_sources::Source;
use serde::{Deserialize, Serialize};

pub mod rules;

pub use dora_sources::{SourcesConfig, TransformError, Transformer};

/// What a route's `transformers` list names: a built-in transformer (`"github"`), every rule of
/// the configuration (`"rules"`), one rule (`"rule:<name>"`), or an external function
/// (`"http:<name>"`, a `[functions.<name>]` entry).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub enum TransformerRef {
    /// A source's transformer.
    Builtin(&'static dyn Source),
    /// Every `[[rules]]` entry, in the order of the file.
    Rules,
    /// The `[[rules]]` entry of that name.
    Rule(String),
    /// The `[functions.<name>]` entry of that name, called by the function worker.
    Function(String),
}

impl From<&'static dyn Source> for TransformerRef {
    fn from(source: &'static dyn Source) -> Self {
        Self::Builtin(source)
    }
}

impl PartialEq for TransformerRef {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for TransformerRef {}

impl TryFrom<String> for TransformerRef {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        if let Some(source) = dora_sources::source(&name) {
            return Ok(Self::Builtin(source));
        }
        if name == "rules" {
            return Ok(Self::Rules);
        }
        if let Some(rule) = name.strip_prefix("rule:") {
            if rules::is_valid_name(rule) {
                return Ok(Self::Rule(rule.to_owned()));
            }
            return Err(format!(
                "transformer {name:?}: a rule name is letters, digits, '-', '_' or '.'"
            ));
        }
        if let Some(function) = name.strip_prefix("http:") {
            if rules::is_valid_name(function) {
                return Ok(Self::Function(function.to_owned()));
            }
            return Err(format!(
                "transformer {name:?}: a function name is letters, digits, '-', '_' or '.'"
            ));
        }
        let builtins: Vec<&str> = dora_sources::SOURCES.iter().map(|s| s.name()).collect();
        Err(format!(
            "unknown transformer {name:?}: expected one of {}, \"rules\", \"rule:<name>\" or \"http:<name>\"",
            builtins.join(", ")
        ))
    }
}

impl From<TransformerRef> for String {
    fn from(reference: TransformerRef) -> Self {
        reference.to_string()
    }
}

impl std::fmt::Display for TransformerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Builtin(source) => f.write_str(source.name()),
            Self::Rules => f.write_str("rules"),
            Self::Rule(name) => write!(f, "rule:{name}"),
            Self::Function(name) => write!(f, "http:{name}"),
        }
    }
}
