//! The Grafana dashboards in `deploy/grafana`: every query must name what exists.
//!
//! - `dora-prometheus.json`: every metric in every PromQL expression (panels, rows' nested panels
//!   and template variables) is a family of a live `GET /metrics` scrape that has samples, every
//!   label it selects, groups by or shows in a legend is a label of that family, and every exact
//!   label value it selects (`key="lead_time"`) occurs.
//! - `dora-postgres.json`: every table after FROM/JOIN and every qualified column is in the live
//!   PostgreSQL schema (`information_schema`), and every query, with Grafana's macros and variables
//!   expanded, passes `EXPLAIN` and returns rows on a database where every table has some.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use dora_metrics::dora::levels::RateThresholds;
use serde_json::{json, Value};
use sqlx::{Column, Row};

use crate::helpers::{cloudevent, spawn_with, storefront_settings, Backend, TestApp};

const PROMETHEUS: &str = "dora-prometheus.json";
const POSTGRES: &str = "dora-postgres.json";

fn dashboard(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/grafana")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
}

/// Every panel, the panels of rows (collapsed rows hold theirs) included.
fn all_panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(panels: &'a Value, out: &mut Vec<&'a Value>) {
        for panel in panels.as_array().into_iter().flatten() {
            out.push(panel);
            if let Some(nested) = panel.get("panels") {
                walk(nested, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// One query of a dashboard: a panel's target or a template variable's query.
struct Query<'a> {
    /// Where it is, for messages.
    place: String,
    text: String,
    /// The target (absent for template variables).
    target: Option<&'a Value>,
}

/// The queries of every target (`field`: `expr` or `rawSql`) and every query variable.
fn queries<'a>(dashboard: &'a Value, field: &str) -> Vec<Query<'a>> {
    let mut out = Vec::new();
    for panel in all_panels(dashboard) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let text = target[field]
                .as_str()
                .unwrap_or_else(|| panic!("{}: a target without {field}", panel["title"]));
            out.push(Query {
                place: format!("panel {} target {}", panel["title"], target["refId"]),
                text: text.to_owned(),
                target: Some(target),
            });
        }
    }
    for variable in variables(dashboard) {
        if variable["type"] == "query" {
            let query = &variable["query"];
            let text = query
                .as_str()
                .or_else(|| query["query"].as_str())
                .unwrap_or_else(|| panic!("variable {} has no query", variable["name"]));
            // What the variable editor shows is what runs.
            if let Some(definition) = variable["definition"].as_str() {
                assert_eq!(
                    definition, text,
                    "variable {}: definition",
                    variable["name"]
                );
            }
            out.push(Query {
                place: format!("variable {}", variable["name"]),
                text: text.to_owned(),
                target: None,
            });
        }
    }
    out
}

fn variables(dashboard: &Value) -> Vec<&Value> {
    dashboard["templating"]["list"]
        .as_array()
        .map(|list| list.iter().collect())
        .unwrap_or_default()
}

/// The Grafana variables a text refers to: `$name`, `${name}`, `${name:format}`, `[[name]]`.
fn variable_references(text: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = BTreeSet::new();
    for (index, _) in text.match_indices('$') {
        let rest = &text[index + 1..];
        let name = ident(rest.strip_prefix('{').unwrap_or(rest));
        if !name.is_empty() {
            out.insert(name);
        }
    }
    for (index, _) in text.match_indices("[[") {
        out.insert(ident(&text[index + 2..]));
    }
    out
}

/// What both dashboards must get right whatever their datasource: ids, layout, datasources,
/// targets and variables.
fn check_structure(name: &str, datasource_type: &str, input: &str, builtins: &[&str]) {
    let dashboard = dashboard(name);
    assert!(
        dashboard["schemaVersion"].as_u64().unwrap_or(0) >= 36,
        "{name}: schemaVersion"
    );
    for field in ["uid", "title"] {
        assert!(
            dashboard[field].as_str().is_some_and(|s| !s.is_empty()),
            "{name}: {field}"
        );
    }
    // Imported through the UI, Grafana asks for the datasource `${input}` stands for.
    let inputs = dashboard["__inputs"].as_array().expect("__inputs");
    assert!(
        inputs
            .iter()
            .any(|i| i["name"] == input && i["pluginId"] == datasource_type),
        "{name}: __inputs declares {input}"
    );
    // Provisioned, the variable of the same name picks the datasource.
    let defined: BTreeSet<String> = variables(&dashboard)
        .iter()
        .map(|v| v["name"].as_str().expect("variable name").to_owned())
        .collect();
    assert!(
        variables(&dashboard).iter().any(|v| v["name"] == input
            && v["type"] == "datasource"
            && v["query"] == datasource_type),
        "{name}: a datasource variable {input}"
    );
    let datasource = json!({"type": datasource_type, "uid": format!("${{{input}}}")});

    let panels = all_panels(&dashboard);
    let mut ids = BTreeSet::new();
    for panel in &panels {
        let title = &panel["title"];
        assert!(
            ids.insert(panel["id"].as_u64().expect("panel id")),
            "{name}: duplicate id {}",
            panel["id"]
        );
        let grid = &panel["gridPos"];
        let (x, w) = (grid["x"].as_u64(), grid["w"].as_u64());
        assert!(
            matches!((x, w), (Some(x), Some(w)) if w > 0 && x + w <= 24)
                && grid["y"].is_u64()
                && grid["h"].as_u64().is_some_and(|h| h > 0),
            "{name}: panel {title}: gridPos {grid}"
        );
        if panel["type"] == "row" {
            continue;
        }
        assert!(
            panel["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{name}: a panel without a title"
        );
        assert_eq!(panel["datasource"], datasource, "{name}: panel {title}");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{name}: panel {title} has no query");
        let mut ref_ids = BTreeSet::new();
        for target in targets {
            assert_eq!(target["datasource"], datasource, "{name}: panel {title}");
            assert!(
                ref_ids.insert(target["refId"].as_str().expect("refId")),
                "{name}: panel {title}: duplicate refId"
            );
        }
    }
    // No two panels overlap: at the top level, and inside each collapsed row.
    let mut layers = vec![dashboard["panels"].as_array().expect("panels").clone()];
    for panel in &panels {
        if let Some(nested) = panel["panels"].as_array().filter(|p| !p.is_empty()) {
            layers.push(nested.clone());
        }
    }
    for layer in layers {
        let rects: Vec<_> = layer
            .iter()
            .map(|p| {
                let g = &p["gridPos"];
                let n = |k: &str| g[k].as_u64().unwrap_or(0);
                (&p["title"], n("x"), n("y"), n("w"), n("h"))
            })
            .collect();
        for (i, a) in rects.iter().enumerate() {
            for b in &rects[i + 1..] {
                let overlap =
                    a.1 < b.1 + b.3 && b.1 < a.1 + a.3 && a.2 < b.2 + b.4 && b.2 < a.2 + a.4;
                assert!(!overlap, "{name}: panels {} and {} overlap", a.0, b.0);
            }
        }
    }
    // Every variable a query or legend uses is defined (Grafana leaves a misspelt one as is).
    for panel in &panels {
        for target in panel["targets"].as_array().into_iter().flatten() {
            for field in ["expr", "rawSql", "legendFormat"] {
                let text = target[field].as_str().unwrap_or_default();
                for reference in variable_references(text) {
                    assert!(
                        defined.contains(&reference) || builtins.contains(&reference.as_str()),
                        "{name}: panel {}: ${reference} is not a variable of the dashboard",
                        panel["title"]
                    );
                }
            }
        }
    }
}

#[test]
fn grafana_dashboards_are_well_formed() {
    check_structure(
        PROMETHEUS,
        "prometheus",
        "DS_PROMETHEUS",
        &["__rate_interval", "__interval", "__range"],
    );
    check_structure(
        POSTGRES,
        "grafana-postgresql-datasource",
        "DS_POSTGRES",
        &[
            "__timeFilter",
            "__timeGroup",
            "__timeGroupAlias",
            "__timeFrom",
            "__timeTo",
        ],
    );
}

// ---------------------------------------------------------------------------- the data

/// A server whose data gives every metric family samples and every table rows: production
/// deployments with a change, an incident, a duplicate, a refused event, a transform failure
/// and a problem on a query route.
async fn spawn_with_every_kind_of_data(backend: &Backend) -> TestApp {
    let db = backend.fresh_database().await;
    let mut settings = storefront_settings(&db);
    // Rework has no default level: thresholds of our own, so that every key has a level.
    settings.dora.thresholds.rework_rate = Some(RateThresholds {
        elite_at_most: 0.05,
        high_at_most: 0.10,
        medium_at_most: 0.15,
    });
    let app = spawn_with(settings, db).await;

    let now = chrono::Utc::now();
    let at = |hours_ago: i64| {
        (now - chrono::Duration::hours(hours_ago))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let cdevent = |kind: &str,
                   id: &str,
                   subject: &str,
                   hours_ago: i64,
                   content: Value,
                   dora: Value| {
        json!({
            "context": {"specversion": "0.5.1", "id": id, "source": "/grafana",
                        "type": format!("dev.cdevents.{kind}.0.3.0"), "timestamp": at(hours_ago)},
            "subject": {"id": subject, "source": "/grafana", "content": content},
            "customData": {"dora": dora}
        })
    };
    let deployed = |id: &str, environment: &str, hours_ago: i64, revision: &str| {
        cdevent(
            "service.deployed",
            id,
            "web",
            hours_ago,
            json!({"environment": {"id": environment}, "artifactId": format!("pkg:oci/web@{revision}")}),
            json!({"revision": revision}),
        )
    };
    let incident = json!({"environment": {"id": "production"}, "service": {"id": "web"}});
    let cdevents = json!([
        cdevent(
            "change.merged",
            "acme/web#1",
            "acme/web#1",
            98,
            json!({"repository": {"id": "acme/web"}}),
            json!({"mergeSha": "aaa", "createdAt": at(100), "mergedAt": at(98)})
        ),
        deployed("d1", "production", 96, "aaa"),
        cdevent(
            "incident.detected",
            "i1-detected",
            "inc-1",
            95,
            incident.clone(),
            json!({})
        ),
        cdevent(
            "incident.resolved",
            "i1-resolved",
            "inc-1",
            93,
            incident,
            json!({})
        ),
        deployed("d2", "production", 48, "bbb"),
        deployed("d3", "staging", 47, "bbb"),
    ]);
    let response = app.post_json("/cdevents", &cdevents).await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());

    let batch = json!([cloudevent("a"), cloudevent("b")]);
    assert_eq!(app.post_batch("/events", &batch).await.status(), 202);
    let duplicate = app.post_structured("/events", &cloudevent("a")).await;
    assert_eq!(duplicate.status(), 202);
    let mut bad = cloudevent("c");
    bad["time"] = json!("yesterday");
    assert_eq!(app.post_structured("/events", &bad).await.status(), 400);
    // A valid CloudEvent carrying a broken CDEvent: stored, then a transform failure.
    let broken = json!({"specversion": "1.0", "id": "broken", "source": "/ci",
                        "type": "dev.cdevents.service.deployed.0.3.0", "data": {"context": {}}});
    assert_eq!(app.post_structured("/events", &broken).await.status(), 202);
    // A problem on a route that does not ingest.
    let problem = app.get("/api/v1/dora?no_such_parameter=1").await;
    assert_eq!(problem.status(), 400);

    let state = app.wait_until_processed().await;
    assert_eq!(state["failures"], 1, "{state}");
    assert_eq!(state["deployments"], 3, "{state}");
    app
}

// ---------------------------------------------------------------------------- Prometheus

/// What a scrape exposes.
#[derive(Default, Debug)]
struct Exposition {
    /// Family -> type.
    kinds: BTreeMap<String, String>,
    /// Family -> label names of its samples (`le` for a histogram's buckets).
    labels: BTreeMap<String, BTreeSet<String>>,
    /// (family, label) -> the values it takes.
    values: BTreeMap<(String, String), BTreeSet<String>>,
}

impl Exposition {
    fn parse(text: &str) -> Self {
        let mut exposition = Self::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
                exposition.kinds.insert(name.to_owned(), kind.to_owned());
                continue;
            }
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (series, _value) = line.rsplit_once(' ').expect("series value");
            let (name, labels) = series.split_once('{').unwrap_or((series, ""));
            let family = exposition.family(name).unwrap_or_else(|| {
                panic!("sample of an undeclared family: {line}");
            });
            let names = exposition.labels.entry(family.clone()).or_default();
            let mut pairs = Vec::new();
            let mut rest = labels.strip_suffix('}').unwrap_or(labels);
            while let Some((label, after)) = rest.split_once("=\"") {
                // The value runs to the first quote not escaped.
                let mut value = String::new();
                let mut chars = after.char_indices();
                let mut end = after.len();
                while let Some((index, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, escaped)) = chars.next() {
                                value.push(if escaped == 'n' { '\n' } else { escaped });
                            }
                        }
                        '"' => {
                            end = index + 1;
                            break;
                        }
                        c => value.push(c),
                    }
                }
                let label = label.trim_start_matches(',').to_owned();
                names.insert(label.clone());
                pairs.push((label, value));
                rest = &after[end..];
            }
            for (label, value) in pairs {
                exposition
                    .values
                    .entry((family.clone(), label))
                    .or_default()
                    .insert(value);
            }
        }
        exposition
    }

    /// The family a metric name belongs to: itself, or a histogram it is a series of.
    fn family(&self, name: &str) -> Option<String> {
        if self.kinds.contains_key(name) {
            return Some(name.to_owned());
        }
        ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
            name.strip_suffix(suffix)
                .filter(|family| self.kinds.get(*family).is_some_and(|k| k == "histogram"))
                .map(str::to_owned)
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Number,
    /// `=`, `!=`, `=~`, `!~` and the other operators.
    Op(String),
    Punct(char),
    /// A Grafana variable outside a string.
    Variable,
}

/// The index of the first char at or after `i` that does not satisfy `pred` (or the end).
fn skip_while(chars: &[char], mut i: usize, pred: impl Fn(char) -> bool) -> usize {
    while i < chars.len() && pred(chars[i]) {
        i += 1;
    }
    i
}

/// Splits `text` into tokens, skipping white space between them: `token` reads the one that
/// starts at `chars[i]` into `tokens` and returns the index after it.
fn lex(text: &str, mut token: impl FnMut(&[char], usize, &mut Vec<Token>) -> usize) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = skip_while(&chars, 0, char::is_whitespace);
    while i < chars.len() {
        i = token(&chars, i, &mut tokens);
        i = skip_while(&chars, i, char::is_whitespace);
    }
    tokens
}

fn lex_promql(expr: &str) -> Vec<Token> {
    lex(expr, |chars, mut i, tokens| {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            let mut value = String::new();
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' && c != '`' {
                    i += 1;
                }
                if let Some(&ch) = chars.get(i) {
                    value.push(ch);
                }
                i += 1;
            }
            assert!(i < chars.len(), "unterminated string in {expr}");
            i += 1;
            tokens.push(Token::Str(value));
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            i = skip_while(chars, i, |ch| {
                ch.is_ascii_alphanumeric() || ch == '_' || ch == ':'
            });
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            i = skip_while(chars, i, |ch| ch.is_ascii_alphanumeric() || ch == '.');
            tokens.push(Token::Number);
        } else if c == '$' {
            i += 1;
            if chars.get(i) == Some(&'{') {
                i = skip_while(chars, i, |ch| ch != '}');
                i += 1;
            } else {
                i = skip_while(chars, i, |ch| ch.is_ascii_alphanumeric() || ch == '_');
            }
            tokens.push(Token::Variable);
        } else if c == '[' {
            // A range or subquery: durations and variables only.
            i = skip_while(chars, i, |ch| ch != ']');
            assert!(i < chars.len(), "unterminated range in {expr}");
            i += 1;
        } else if "=!<>".contains(c) {
            let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let op = if ["=~", "!~", "!=", "==", "<=", ">="].contains(&two.as_str()) {
                two
            } else {
                c.to_string()
            };
            i += op.chars().count();
            tokens.push(Token::Op(op));
        } else {
            tokens.push(Token::Punct(c));
            i += 1;
        }
        i
    })
}

/// A metric selector: name and `label op "value"` matchers.
#[derive(Debug)]
struct Selector {
    name: String,
    matchers: Vec<(String, String, String)>,
}

#[derive(Debug, Default)]
struct PromQuery {
    selectors: Vec<Selector>,
    /// Labels of `by`, `without`, `on`, `ignoring`, `group_left` and `group_right`.
    grouping: BTreeSet<String>,
    functions: Vec<String>,
}

const GROUPING: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];
const KEYWORDS: [&str; 6] = ["bool", "and", "or", "unless", "offset", "atan2"];
const AGGREGATIONS: [&str; 11] = [
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "group",
];
const FUNCTIONS: [&str; 22] = [
    "rate",
    "irate",
    "increase",
    "delta",
    "idelta",
    "deriv",
    "histogram_quantile",
    "abs",
    "clamp_min",
    "clamp_max",
    "round",
    "ceil",
    "floor",
    "time",
    "timestamp",
    "vector",
    "scalar",
    "label_replace",
    "max_over_time",
    "min_over_time",
    "avg_over_time",
    "last_over_time",
];

fn parse_promql(expr: &str) -> PromQuery {
    let tokens = lex_promql(expr);
    let mut query = PromQuery::default();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Ident(ident) => {
                // `sum(...)`, and `sum by (label) (...)`.
                let called = tokens.get(i + 1) == Some(&Token::Punct('('))
                    || (AGGREGATIONS.contains(&ident.as_str())
                        && matches!(tokens.get(i + 1), Some(Token::Ident(next)) if next == "by" || next == "without"));
                if GROUPING.contains(&ident.as_str()) && called {
                    i += 2;
                    while tokens.get(i) != Some(&Token::Punct(')')) {
                        match tokens.get(i) {
                            Some(Token::Ident(label)) => {
                                query.grouping.insert(label.clone());
                            }
                            Some(Token::Punct(',')) => {}
                            other => panic!("{expr}: {other:?} in a label list"),
                        }
                        i += 1;
                    }
                    i += 1;
                } else if KEYWORDS.contains(&ident.as_str()) || GROUPING.contains(&ident.as_str()) {
                    i += 1;
                } else if called {
                    assert!(
                        AGGREGATIONS.contains(&ident.as_str())
                            || FUNCTIONS.contains(&ident.as_str()),
                        "{expr}: {ident} is not a PromQL function this test knows"
                    );
                    query.functions.push(ident.clone());
                    i += 1;
                } else {
                    let mut selector = Selector {
                        name: ident.clone(),
                        matchers: Vec::new(),
                    };
                    i += 1;
                    if tokens.get(i) == Some(&Token::Punct('{')) {
                        i += 1;
                        loop {
                            match (tokens.get(i), tokens.get(i + 1), tokens.get(i + 2)) {
                                (Some(Token::Punct('}')), _, _) => break,
                                (Some(Token::Punct(',')), _, _) => i += 1,
                                (
                                    Some(Token::Ident(label)),
                                    Some(Token::Op(op)),
                                    Some(Token::Str(value)),
                                ) if ["=", "!=", "=~", "!~"].contains(&op.as_str()) => {
                                    selector.matchers.push((
                                        label.clone(),
                                        op.clone(),
                                        value.clone(),
                                    ));
                                    i += 3;
                                }
                                other => panic!("{expr}: a matcher expected, found {other:?}"),
                            }
                        }
                        i += 1;
                    }
                    query.selectors.push(selector);
                }
            }
            Token::Punct('{') => panic!("{expr}: a selector without a metric name"),
            _ => i += 1,
        }
    }
    query
}

/// `{{label}}` in a legend.
fn legend_labels(legend: &str) -> BTreeSet<String> {
    legend
        .split("{{")
        .skip(1)
        .filter_map(|part| part.split_once("}}"))
        .map(|(label, _)| label.trim().to_owned())
        .collect()
}

/// Checks one query against the scrape; `shown` are the labels its result must carry (a variable's
/// label, a legend's). Returns the families it names.
fn check_promql(
    place: &str,
    expr: &str,
    shown: &BTreeSet<String>,
    scrape: &Exposition,
) -> BTreeSet<String> {
    let query = parse_promql(expr);
    assert!(
        !query.selectors.is_empty(),
        "{place}: {expr} names no metric"
    );
    let mut families = BTreeSet::new();
    let mut available = BTreeSet::new();
    for selector in &query.selectors {
        let family = scrape.family(&selector.name).unwrap_or_else(|| {
            panic!(
                "{place}: {expr}: {} is not a metric of GET /metrics (families: {:?})",
                selector.name,
                scrape.kinds.keys().collect::<Vec<_>>()
            )
        });
        let labels = scrape
            .labels
            .get(&family)
            .unwrap_or_else(|| panic!("{place}: {family} has no sample in the scrape"));
        for (label, op, value) in &selector.matchers {
            assert!(
                labels.contains(label),
                "{place}: {expr}: {family} has no label {label} (it has {labels:?})"
            );
            if op == "=" && !value.contains('$') {
                let values = &scrape.values[&(family.clone(), label.clone())];
                assert!(
                    values.contains(value),
                    "{place}: {expr}: {family} never has {label}={value:?} (it has {values:?})"
                );
            }
        }
        available.extend(labels.iter().cloned());
        families.insert(family);
    }
    for label in &query.grouping {
        assert!(
            available.contains(label),
            "{place}: {expr}: no label {label} on {families:?} (they have {available:?})"
        );
    }
    if query.functions.iter().any(|f| f == "histogram_quantile") {
        assert!(
            query.grouping.contains("le")
                && query.selectors.iter().all(|s| s.name.ends_with("_bucket")),
            "{place}: {expr}: histogram_quantile needs _bucket series kept by le"
        );
    }
    // After an aggregation only its `by` labels are left to show.
    let aggregated = query
        .functions
        .iter()
        .any(|f| AGGREGATIONS.contains(&f.as_str()));
    let left = if aggregated {
        &query.grouping
    } else {
        &available
    };
    for label in shown {
        assert!(
            left.contains(label),
            "{place}: {expr}: shows {label}, which its result does not have (it has {left:?})"
        );
    }
    families
}

#[tokio::test]
async fn grafana_prometheus_dashboard_names_exposed_metrics_and_labels() {
    let app = spawn_with_every_kind_of_data(&Backend::Sqlite).await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let scrape = Exposition::parse(&response.text().await.unwrap());

    let dashboard = dashboard(PROMETHEUS);
    let queries = queries(&dashboard, "expr");
    let mut used = BTreeSet::new();
    for query in &queries {
        let families = match query.target {
            Some(target) => {
                let legend = target["legendFormat"].as_str().unwrap_or_default();
                check_promql(&query.place, &query.text, &legend_labels(legend), &scrape)
            }
            // `label_values(selector, label)`.
            None => {
                let inner = query
                    .text
                    .trim()
                    .strip_prefix("label_values(")
                    .and_then(|q| q.strip_suffix(')'))
                    .unwrap_or_else(|| panic!("{}: not label_values(metric, label)", query.place));
                let (selector, label) = inner
                    .rsplit_once(',')
                    .unwrap_or_else(|| panic!("{}: label_values without a metric", query.place));
                let shown = BTreeSet::from([label.trim().to_owned()]);
                check_promql(&query.place, selector, &shown, &scrape)
            }
        };
        used.extend(families);
    }
    // The dashboard shows the five keys, their levels and the pipeline.
    for family in [
        "dora_deployments",
        "dora_deploy_days_per_week",
        "dora_lead_time_seconds",
        "dora_lead_time_p90_seconds",
        "dora_change_failure_rate",
        "dora_recovery_time_seconds",
        "dora_rework_rate",
        "dora_level",
        "dora_events_received_total",
        "dora_events_duplicate_total",
        "dora_events_rejected_total",
        "dora_http_request_duration_seconds",
        "dora_stage_lag_events",
        "dora_transform_failures",
        "dora_store_up",
    ] {
        assert!(used.contains(family), "no panel shows {family}");
    }
    // Each key's stat panel is coloured by that key's level.
    for (metric, key) in [
        ("dora_deploy_days_per_week", "deployment_frequency"),
        ("dora_lead_time_seconds", "lead_time"),
        ("dora_change_failure_rate", "change_failure_rate"),
        ("dora_recovery_time_seconds", "recovery_time"),
        ("dora_rework_rate", "rework_rate"),
    ] {
        let coloured = all_panels(&dashboard).into_iter().any(|panel| {
            let exprs: Vec<&str> = panel["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["expr"].as_str())
                .collect();
            panel["type"] == "stat"
                && exprs.iter().any(|e| e.starts_with(&format!("{metric}{{")))
                && exprs
                    .iter()
                    .any(|e| e.contains("dora_level{") && e.contains(&format!("key=\"{key}\"")))
        });
        assert!(
            coloured,
            "no stat panel shows {metric} with dora_level{{key=\"{key}\"}}"
        );
    }
    app.stop().await;
}

// ---------------------------------------------------------------------------- PostgreSQL

/// Grafana's macros, as a dashboard over the last 7 days would expand them.
fn expand_macros(place: &str, sql: &str) -> String {
    let mut out = String::new();
    let mut rest = sql;
    while let Some(start) = rest.find("$__") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 3..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let after = &after[name.len()..];
        let close = after
            .strip_prefix('(')
            .and_then(|a| a.find(')'))
            .unwrap_or_else(|| panic!("{place}: $__{name} without (arguments)"));
        let args: Vec<&str> = after[1..close + 1].split(',').map(str::trim).collect();
        let truncation = |interval: Option<&&str>| match interval.copied() {
            Some("1m") => "minute",
            Some("1h") => "hour",
            Some("1d") => "day",
            Some("1w" | "7d") => "week",
            other => panic!("{place}: $__{name} interval {other:?}"),
        };
        let expanded = match (name.as_str(), args.as_slice()) {
            ("timeFilter", [column]) => {
                format!("({column} >= now() - interval '7 days' AND {column} <= now())")
            }
            ("timeGroup", [column, ..]) => {
                format!("date_trunc('{}', {column})", truncation(args.get(1)))
            }
            ("timeGroupAlias", [column, ..]) => {
                format!(
                    "date_trunc('{}', {column}) AS \"time\"",
                    truncation(args.get(1))
                )
            }
            ("timeFrom", [""]) => "(now() - interval '7 days')".to_owned(),
            ("timeTo", [""]) => "now()".to_owned(),
            _ => panic!(
                "{place}: macro $__{name}({}) is not one this test expands",
                args.join(",")
            ),
        };
        out.push_str(&expanded);
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}

/// Replaces `$name`, `${name}` and `[[name]]` by the SQL literals of the variables.
fn expand_variables(place: &str, sql: &str, values: &BTreeMap<String, String>) -> String {
    let mut sql = sql.to_owned();
    // Longest names first, so that `$service_x` is not read as `$service` + `_x`.
    let mut names: Vec<&String> = values.keys().collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for name in names {
        let literal = &values[name];
        for form in [
            format!("${{{name}}}"),
            format!("[[{name}]]"),
            format!("${name}"),
        ] {
            sql = sql.replace(&form, literal);
        }
    }
    assert!(
        !sql.contains('$') && !sql.contains("[["),
        "{place}: unexpanded variable in {sql}"
    );
    sql
}

fn lex_sql(sql: &str) -> Vec<Token> {
    lex(sql, |chars, mut i, tokens| {
        let c = chars[i];
        if c == '-' && chars.get(i + 1) == Some(&'-') {
            i = skip_while(chars, i, |ch| ch != '\n');
        } else if c == '\'' {
            i += 1;
            while i < chars.len() && !(chars[i] == '\'' && chars.get(i + 1) != Some(&'\'')) {
                i += if chars[i] == '\'' { 2 } else { 1 };
            }
            i += 1;
            tokens.push(Token::Str(String::new()));
        } else if c == '"' {
            let start = i + 1;
            i = start;
            i = skip_while(chars, i, |ch| ch != '"');
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            i = skip_while(chars, i, |ch| ch.is_ascii_alphanumeric() || ch == '_');
            let word: String = chars[start..i].iter().collect();
            tokens.push(Token::Ident(word.to_lowercase()));
        } else if c.is_ascii_digit() {
            i = skip_while(chars, i, |ch| ch.is_ascii_alphanumeric() || ch == '.');
            tokens.push(Token::Number);
        } else {
            tokens.push(Token::Punct(c));
            i += 1;
        }
        i
    })
}

/// Words that end a FROM item rather than name its alias.
const SQL_CLAUSES: [&str; 20] = [
    "where",
    "join",
    "inner",
    "left",
    "right",
    "full",
    "cross",
    "natural",
    "on",
    "using",
    "group",
    "order",
    "limit",
    "offset",
    "having",
    "window",
    "union",
    "except",
    "intersect",
    "fetch",
];

/// Checks the tables after FROM/JOIN and the qualified columns (`alias.column`) against the
/// schema (table -> columns). Returns the tables read.
fn check_sql_names(
    place: &str,
    sql: &str,
    schema: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeSet<String> {
    let tokens = lex_sql(sql);
    let ident = |i: usize| match tokens.get(i) {
        Some(Token::Ident(word)) => Some(word.as_str()),
        _ => None,
    };
    // Names a WITH defines: `name AS (`.
    let ctes: BTreeSet<&str> = (0..tokens.len())
        .filter(|&i| ident(i + 1) == Some("as") && tokens.get(i + 2) == Some(&Token::Punct('(')))
        .filter_map(ident)
        .collect();
    let mut aliases: BTreeMap<&str, &str> = BTreeMap::new();
    let mut read = BTreeSet::new();
    for i in 0..tokens.len() {
        if !matches!(ident(i), Some("from" | "join")) {
            continue;
        }
        // `extract(epoch FROM x)`, `substring(s FROM 2)`, `trim(leading FROM s)`.
        if i >= 3
            && tokens[i - 2] == Token::Punct('(')
            && matches!(
                ident(i - 3),
                Some("extract" | "substring" | "trim" | "overlay" | "position")
            )
        {
            continue;
        }
        let Some(table) = ident(i + 1) else {
            continue; // a subquery
        };
        if ctes.contains(table) {
            continue;
        }
        assert!(
            schema.contains_key(table),
            "{place}: no table {table} in the PostgreSQL schema (tables: {:?})",
            schema.keys().collect::<Vec<_>>()
        );
        aliases.insert(table, table);
        read.insert(table.to_owned());
        let alias_at = if ident(i + 2) == Some("as") {
            i + 3
        } else {
            i + 2
        };
        if let Some(alias) = ident(alias_at).filter(|a| !SQL_CLAUSES.contains(a)) {
            aliases.insert(alias, table);
        }
    }
    assert!(
        !aliases.is_empty(),
        "{place}: the query reads no table: {sql}"
    );
    for i in 0..tokens.len() {
        if let (Some(qualifier), Some(Token::Punct('.')), Some(column)) =
            (ident(i), tokens.get(i + 1), ident(i + 2))
        {
            let table = aliases.get(qualifier).unwrap_or_else(|| {
                panic!("{place}: {qualifier}.{column}: {qualifier} is not a table of the query")
            });
            assert!(
                schema[*table].contains(column),
                "{place}: no column {column} in {table} (it has {:?})",
                schema[*table]
            );
        }
    }
    read
}

/// The tables of the PostgreSQL migrations.
const TABLES: [&str; 6] = [
    "cloudevents_raw",
    "cdevents_raw",
    "cursors",
    "transform_failures",
    "deployments",
    "observations",
];

#[tokio::test]
async fn grafana_postgres_dashboard_queries_run_on_the_schema() {
    // Skipped without DATABASE_URL, a failure in CI (like every PostgreSQL variant).
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let app = spawn_with_every_kind_of_data(&backend).await;
    let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();

    let mut schema: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let columns = sqlx::query(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema()",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for row in columns {
        schema
            .entry(row.get::<String, _>(0))
            .or_default()
            .insert(row.get::<String, _>(1));
    }
    for table in TABLES {
        let count: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(count > 0, "the test data leaves {table} empty");
    }

    let dashboard = dashboard(POSTGRES);
    // Variables first, in order (a variable's query may use the ones before it): each one's
    // value is its current selection, or every value its query returns for "All".
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for variable in variables(&dashboard) {
        let name = variable["name"].as_str().unwrap().to_owned();
        if variable["type"] != "query" {
            continue;
        }
        let place = format!("variable {name}");
        let sql = variable["query"].as_str().expect("a SQL variable query");
        let sql = expand_variables(&place, &expand_macros(&place, sql), &values);
        check_sql_names(&place, &sql, &schema);
        let rows = sqlx::query(&sql)
            .fetch_all(&pool)
            .await
            .unwrap_or_else(|e| panic!("{place}: {e}\n{sql}"));
        let options: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
        assert!(!options.is_empty(), "{place} has no value: {sql}");
        let current: Vec<String> = match &variable["current"]["value"] {
            Value::Array(values) => values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Value::String(value) => vec![value.clone()],
            _ => Vec::new(),
        };
        let chosen = if current.is_empty() || current.iter().any(|v| v == "$__all") {
            options
        } else {
            for value in &current {
                assert!(
                    options.contains(value),
                    "{place}: the default {value} is not among {options:?}"
                );
            }
            current
        };
        let literal = chosen
            .iter()
            .map(|v| format!("'{}'", v.replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(",");
        values.insert(name, literal);
    }

    let mut read = BTreeSet::new();
    for query in queries(&dashboard, "rawSql") {
        let Some(target) = query.target else { continue };
        let place = &query.place;
        let format = target["format"].as_str().unwrap_or_default();
        assert!(
            ["time_series", "table"].contains(&format),
            "{place}: format {format:?}"
        );
        assert_eq!(target["rawQuery"], true, "{place}: not a raw SQL query");
        let sql = expand_variables(place, &expand_macros(place, &query.text), &values);
        read.extend(check_sql_names(place, &sql, &schema));
        sqlx::query(&format!("EXPLAIN {sql}"))
            .fetch_all(&pool)
            .await
            .unwrap_or_else(|e| panic!("{place}: EXPLAIN fails: {e}\n{sql}"));
        let rows = sqlx::query(&sql)
            .fetch_all(&pool)
            .await
            .unwrap_or_else(|e| panic!("{place}: {e}\n{sql}"));
        assert!(
            !rows.is_empty(),
            "{place} shows nothing on data in every table:\n{sql}"
        );
        let columns: Vec<&str> = rows[0].columns().iter().map(|c| c.name()).collect();
        if format == "time_series" {
            assert!(
                columns.contains(&"time") && columns.len() >= 2,
                "{place}: a time series needs a time column and values, has {columns:?}"
            );
        }
    }
    // Every table of the pipeline has a panel.
    for table in TABLES {
        assert!(read.contains(table), "no panel reads {table}");
    }
    pool.close().await;
    app.stop().await;
}
