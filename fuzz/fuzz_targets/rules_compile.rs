//! The jq rule compiler: user rule text (`match` / `emit` of a `[[rules]]` entry) as the
//! configuration gives it. Compiling must answer a `RuleError` naming the rule and the position,
//! never panic. Compiled programs are not run here (a rule may loop forever by design: see
//! `transformers.rs` for compiled rules run on fuzzed events). Route transformer names
//! (`rule:<name>`, `http:<name>`, ...) are parsed too.
#![no_main]

use dora_pipeline::transformers::rules::{Rule, RuleConfig};
use dora_pipeline::transformers::TransformerRef;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(code) = std::str::from_utf8(data) else {
        return;
    };
    let emit_only = RuleConfig {
        name: "fuzz".into(),
        matches: None,
        emit: code.to_owned(),
    };
    if let Err(e) = Rule::compile(&emit_only) {
        assert_eq!(e.rule, "fuzz");
        let _ = e.to_string();
    }
    // A `match` compiles the same way; the split also gives the fuzzer two programs at once.
    if let Some((matches, emit)) = code.split_once("\n---\n") {
        let both = RuleConfig {
            name: "fuzz".into(),
            matches: Some(matches.to_owned()),
            emit: emit.to_owned(),
        };
        let _ = Rule::compile(&both);
    }
    let _ = TransformerRef::try_from(code.to_owned());
});
