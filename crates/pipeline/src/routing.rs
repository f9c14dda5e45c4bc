//! The routing table: which transformers see which CloudEvents.
//!
//! A route matches on the event `type` (exact, or by prefix), optionally its `source`, and values
//! inside `data` addressed by dotted paths (`involvedObject.kind = "Deployment"`; a list means any
//! of its values). An event goes to every transformer of every route it matches, each once.
//!
//! Routes name built-in transformers, every user-defined rule (`rules`) or one (`rule:<name>`),
//! and external functions (`http:<name>`); the table compiles the rules
//! ([`crate::transformers::rules`]) when it is built. Functions are not called by the router:
//! it enqueues a job for the function worker ([`crate::functions`]).

use std::collections::BTreeMap;

use dora_model::cloudevent::CloudEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::transformers::rules::{Rule, RuleConfig, RuleError};
use crate::transformers::{SourcesConfig, Transformer, TransformerRef};
use dora_sources::Source;

/// One `[[routes]]` entry of the configuration.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Shown in logs and failures.
    pub name: String,
    /// Exact event type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// Event type prefix, e.g. `dev.knative.apiserver.`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_prefix: Option<String>,
    /// Exact event source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Dotted path inside `data` -> expected value (or list of accepted values).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, Value>,
    /// Transformers the matching events go to.
    pub transformers: Vec<TransformerRef>,
}

/// A configuration mistake in the routes, naming the route.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("route {route:?}: {message}")]
pub struct RouteError {
    pub route: String,
    pub message: String,
}

/// A mistake in the routes or the rules, naming the route or the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    /// A route is wrong.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// A rule does not compile, is named twice, or no route names it.
    #[error(transparent)]
    Rule(#[from] RuleError),
}

struct CompiledRoute {
    config: RouteConfig,
    data_paths: Vec<(Vec<String>, Value)>,
    transformer_indexes: Vec<usize>,
    /// Names of the external functions the route names.
    functions: Vec<String>,
}

/// The compiled routing table with one instance of each transformer it uses.
pub struct RoutingTable {
    routes: Vec<CompiledRoute>,
    transformers: Vec<Box<dyn Transformer>>,
    /// Index of the `cdevents` pass-through in `transformers`: events posted to
    /// `POST /cdevents` always go to it, whatever the routes say.
    pass_through: usize,
}

impl std::fmt::Debug for RoutingTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoutingTable")
            .field(
                "routes",
                &self
                    .routes
                    .iter()
                    .map(|r| &r.config.name)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl RoutingTable {
    /// Checks and compiles the routes and the rules, building each transformer they name once.
    /// Routes may not name external functions (see [`RoutingTable::with_functions`]).
    pub fn new(
        routes: &[RouteConfig],
        sources: &SourcesConfig,
        rules: &[RuleConfig],
    ) -> Result<Self, RoutingError> {
        Self::with_functions(routes, sources, rules, &[])
    }

    /// Like [`RoutingTable::new`], where routes may name the external functions `functions`
    /// (`http:<name>`); naming any other function is an error naming the route.
    pub fn with_functions(
        routes: &[RouteConfig],
        sources: &SourcesConfig,
        rules: &[RuleConfig],
        functions: &[&str],
    ) -> Result<Self, RoutingError> {
        // The rules come first in `transformers`: rule `i` is transformer `i`.
        let mut transformers = compile_rules(rules)?;
        let mut names = References {
            rule_names: rules.iter().map(|rule| rule.name.as_str()).collect(),
            rule_used: vec![false; rules.len()],
            sources_used: Vec::new(),
            functions,
        };
        let mut compiled = Vec::with_capacity(routes.len());
        for route in routes {
            let data_paths = checked_route(route)?;
            let (transformer_indexes, functions) = names.resolve(route)?;
            compiled.push(CompiledRoute {
                config: route.clone(),
                data_paths,
                transformer_indexes,
                functions,
            });
        }
        names.every_rule_used()?;
        let mut sources_used = names.sources_used;
        let pass_through =
            rules.len() + position_of(&mut sources_used, &dora_sources::cdevents::Cdevents);
        transformers.extend(sources_used.into_iter().map(|s| s.transformer(sources)));
        Ok(Self {
            routes: compiled,
            transformers,
            pass_through,
        })
    }

    /// The transformers an event goes to, each once, in route order. An event posted to
    /// `POST /cdevents` (`posted_as_cdevent`) goes to the pass-through too.
    pub fn transformers_for(
        &self,
        event: &CloudEvent,
        posted_as_cdevent: bool,
    ) -> Vec<&dyn Transformer> {
        let mut indexes: Vec<usize> = Vec::new();
        if posted_as_cdevent {
            indexes.push(self.pass_through);
        }
        for route in &self.routes {
            if route.matches(event) {
                for index in &route.transformer_indexes {
                    if !indexes.contains(index) {
                        indexes.push(*index);
                    }
                }
            }
        }
        indexes
            .into_iter()
            .filter_map(|i| self.transformers.get(i).map(|t| t.as_ref()))
            .collect()
    }

    /// The external functions an event goes to (`[functions.<name>]` names), each once, in
    /// route order. Events posted to `POST /cdevents` are routed too.
    pub fn functions_for(&self, event: &CloudEvent) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for route in &self.routes {
            if route.matches(event) {
                for name in &route.functions {
                    if !names.contains(&name.as_str()) {
                        names.push(name);
                    }
                }
            }
        }
        names
    }

    /// The route names, in order.
    pub fn route_names(&self) -> impl Iterator<Item = &str> {
        self.routes.iter().map(|r| r.config.name.as_str())
    }
}

impl CompiledRoute {
    fn matches(&self, event: &CloudEvent) -> bool {
        let config = &self.config;
        if config
            .event_type
            .as_deref()
            .is_some_and(|t| t != event.event_type)
            || config
                .type_prefix
                .as_deref()
                .is_some_and(|p| !event.event_type.starts_with(p))
            || config.source.as_deref().is_some_and(|s| s != event.source)
        {
            return false;
        }
        if self.data_paths.is_empty() {
            return true;
        }
        let Some(data) = event.data_json() else {
            return false;
        };
        self.data_paths.iter().all(|(path, expected)| {
            let found = path.iter().try_fold(data, |node, segment| match node {
                Value::Object(map) => map.get(segment),
                Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            });
            match (found, expected) {
                (Some(value), Value::Array(options)) => options.contains(value),
                (Some(value), expected) => value == expected,
                (None, _) => false,
            }
        })
    }
}

/// Compiles the rules, in order; two rules of the same name are an error.
fn compile_rules(rules: &[RuleConfig]) -> Result<Vec<Box<dyn Transformer>>, RoutingError> {
    let mut transformers: Vec<Box<dyn Transformer>> = Vec::with_capacity(rules.len());
    for (i, rule) in rules.iter().enumerate() {
        if rules[..i].iter().any(|earlier| earlier.name == rule.name) {
            return Err(RuleError {
                rule: rule.name.clone(),
                message: "another rule has the same name".into(),
            }
            .into());
        }
        transformers.push(Box::new(Rule::compile(rule)?));
    }
    Ok(transformers)
}

/// Checks a route's name, transformers and type, and compiles its data paths.
fn checked_route(route: &RouteConfig) -> Result<Vec<(Vec<String>, Value)>, RouteError> {
    let fail = |message: String| RouteError {
        route: route.name.clone(),
        message,
    };
    if route.name.trim().is_empty() {
        return Err(fail("name must not be empty".into()));
    }
    if route.transformers.is_empty() {
        return Err(fail("names no transformer".into()));
    }
    if route.event_type.is_some() && route.type_prefix.is_some() {
        return Err(fail("set either type or type_prefix, not both".into()));
    }
    let scalar = |v: &Value| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_));
    let mut data_paths = Vec::with_capacity(route.data.len());
    for (path, expected) in &route.data {
        let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
        if segments.iter().any(String::is_empty) {
            return Err(fail(format!("data path {path:?} has an empty segment")));
        }
        let ok = match expected {
            Value::Array(options) => !options.is_empty() && options.iter().all(scalar),
            other => scalar(other),
        };
        if !ok {
            return Err(fail(format!(
                "data path {path:?} must map to a string, number, boolean or a non-empty list of them"
            )));
        }
        data_paths.push((segments, expected.clone()));
    }
    Ok(data_paths)
}

/// What the routes' `transformers` lists name, as the table is built: which rules are used,
/// which sources' transformers (in order of first use), and the functions configured.
struct References<'a> {
    rule_names: Vec<&'a str>,
    rule_used: Vec<bool>,
    sources_used: Vec<&'static dyn Source>,
    functions: &'a [&'a str],
}

impl References<'_> {
    /// The transformer indexes (rules first, then sources) and the functions `route` names.
    fn resolve(&mut self, route: &RouteConfig) -> Result<(Vec<usize>, Vec<String>), RouteError> {
        let fail = |message: String| RouteError {
            route: route.name.clone(),
            message,
        };
        let rules = self.rule_names.len();
        let mut indexes = Vec::new();
        let mut functions: Vec<String> = Vec::new();
        let mut add = |index: usize| {
            if !indexes.contains(&index) {
                indexes.push(index);
            }
        };
        for reference in &route.transformers {
            match reference {
                TransformerRef::Builtin(source) => {
                    add(rules + position_of(&mut self.sources_used, *source));
                }
                TransformerRef::Rules => {
                    for (index, used) in self.rule_used.iter_mut().enumerate() {
                        *used = true;
                        add(index);
                    }
                }
                TransformerRef::Rule(name) => {
                    let index = self
                        .rule_names
                        .iter()
                        .position(|rule| rule == name)
                        .ok_or_else(|| {
                            fail(format!(
                                "names rule:{name}, but no [[rules]] entry is named {name:?}"
                            ))
                        })?;
                    if let Some(used) = self.rule_used.get_mut(index) {
                        *used = true;
                    }
                    add(index);
                }
                TransformerRef::Function(name) => {
                    if !self.functions.contains(&name.as_str()) {
                        return Err(fail(format!(
                            "names http:{name}, but no [functions.{name}] entry is configured"
                        )));
                    }
                    if !functions.contains(name) {
                        functions.push(name.clone());
                    }
                }
            }
        }
        Ok((indexes, functions))
    }

    /// An error naming the first rule no route names.
    fn every_rule_used(&self) -> Result<(), RuleError> {
        match self.rule_used.iter().position(|used| !used) {
            None => Ok(()),
            Some(unused) => {
                let name = self.rule_names.get(unused).copied().unwrap_or_default();
                Err(RuleError {
                    rule: name.to_owned(),
                    message: format!(
                        "no route names it: add \"rules\" or \"rule:{name}\" to a route's transformers"
                    ),
                })
            }
        }
    }
}

/// Where `source` is in `used`, adding it at the end when it is not there yet.
fn position_of(used: &mut Vec<&'static dyn Source>, source: &'static dyn Source) -> usize {
    match used.iter().position(|s| s.name() == source.name()) {
        Some(position) => position,
        None => {
            used.push(source);
            used.len() - 1
        }
    }
}

/// The routes the default configuration ships: each source's ([`Source::default_routes`]), in
/// the order of `dora_sources::SOURCES`, then every event to the user-defined rules (none by
/// default; each rule's `match` picks its events).
pub fn default_routes() -> Vec<RouteConfig> {
    let mut routes: Vec<RouteConfig> = dora_sources::SOURCES
        .iter()
        .flat_map(|source| {
            source.default_routes().iter().map(|route| RouteConfig {
                name: route.name.to_owned(),
                event_type: None,
                type_prefix: Some(route.type_prefix.to_owned()),
                source: None,
                data: route
                    .data
                    .iter()
                    .map(|(path, values)| ((*path).to_owned(), expected_value(values)))
                    .collect(),
                transformers: vec![TransformerRef::Builtin(*source)],
            })
        })
        .collect();
    routes.push(RouteConfig {
        name: "rules".into(),
        event_type: None,
        type_prefix: None,
        source: None,
        data: BTreeMap::new(),
        transformers: vec![TransformerRef::Rules],
    });
    routes
}

/// One accepted value as a string, several as a list of them.
fn expected_value(values: &[&str]) -> Value {
    match values {
        [one] => Value::String((*one).to_owned()),
        many => Value::Array(
            many.iter()
                .map(|v| Value::String((*v).to_owned()))
                .collect(),
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(event_type: &str, data: Value) -> CloudEvent {
        CloudEvent::from_json_value(
            json!({"specversion": "1.0", "id": "1", "source": "https://10.96.0.1:443",
            "type": event_type, "data": data}),
        )
        .unwrap()
    }

    fn names(table: &RoutingTable, event: &CloudEvent) -> Vec<String> {
        table
            .transformers_for(event, false)
            .iter()
            .map(|t| t.name().to_owned())
            .collect()
    }

    #[test]
    fn default_routes_send_deployment_events_to_kubernetes_only() {
        let table = RoutingTable::new(&default_routes(), &SourcesConfig::default(), &[]).unwrap();
        let deployment_event = event(
            "dev.knative.apiserver.resource.update",
            json!({"kind": "Event", "involvedObject": {"kind": "Deployment"}}),
        );
        assert_eq!(names(&table, &deployment_event), ["kubernetes"]);
        let pod_event = event(
            "dev.knative.apiserver.resource.update",
            json!({"kind": "Event", "involvedObject": {"kind": "Pod"}}),
        );
        assert!(names(&table, &pod_event).is_empty());
        let deployment = event(
            "dev.knative.apiserver.resource.add",
            json!({"kind": "Deployment"}),
        );
        assert_eq!(names(&table, &deployment), ["kubernetes"]);
        let cdevent = event("dev.cdevents.service.deployed.0.3.0", json!({}));
        assert_eq!(names(&table, &cdevent), ["cdevents"]);
        assert!(names(&table, &event("com.example.other", json!({}))).is_empty());
        let custom = event("dev.cdeventsx.mytool-resource.created.0.1.0", json!({}));
        assert_eq!(names(&table, &custom), ["cdevents"]);
    }

    #[test]
    fn events_posted_as_cdevents_always_pass_through() {
        let only_kubernetes = vec![default_routes().remove(1)];
        let table = RoutingTable::new(&only_kubernetes, &SourcesConfig::default(), &[]).unwrap();
        let envelope = event("com.example.envelope", json!({}));
        assert!(names(&table, &envelope).is_empty());
        let posted: Vec<&str> = table
            .transformers_for(&envelope, true)
            .iter()
            .map(|t| t.name())
            .collect();
        assert_eq!(posted, ["cdevents"]);
    }

    #[test]
    fn exact_type_source_and_lists_of_values() {
        let routes: Vec<RouteConfig> = vec![RouteConfig {
            name: "r".into(),
            event_type: Some("t".into()),
            type_prefix: None,
            source: Some("https://10.96.0.1:443".into()),
            data: BTreeMap::from([("a.0.b".into(), json!(["x", 2]))]),
            transformers: vec![
                TransformerRef::Builtin(&dora_sources::cdevents::Cdevents),
                TransformerRef::Builtin(&dora_sources::cdevents::Cdevents),
            ],
        }];
        let table = RoutingTable::new(&routes, &SourcesConfig::default(), &[]).unwrap();
        assert_eq!(
            names(&table, &event("t", json!({"a": [{"b": 2}]}))),
            ["cdevents"]
        );
        assert!(names(&table, &event("t", json!({"a": [{"b": 3}]}))).is_empty());
        assert!(names(&table, &event("tt", json!({"a": [{"b": "x"}]}))).is_empty());
    }

    fn rule(name: &str, matches: &str) -> RuleConfig {
        RuleConfig {
            name: name.into(),
            matches: Some(matches.into()),
            emit: "{context: {type: \"dev.cdevents.service.deployed.0.3.0\"}}".into(),
        }
    }

    fn route(name: &str, transformers: &[&str]) -> RouteConfig {
        RouteConfig {
            name: name.into(),
            event_type: None,
            type_prefix: None,
            source: None,
            data: BTreeMap::new(),
            transformers: transformers
                .iter()
                .map(|t| TransformerRef::try_from((*t).to_owned()).unwrap())
                .collect(),
        }
    }

    #[test]
    fn rules_is_every_rule_and_rule_name_is_one() {
        let rules = [rule("a", "true"), rule("b", "true")];
        let table =
            RoutingTable::new(&default_routes(), &SourcesConfig::default(), &rules).unwrap();
        assert_eq!(
            names(&table, &event("com.example.other", json!({}))),
            ["rule:a", "rule:b"]
        );
        let cdevent = event("dev.cdevents.service.deployed.0.3.0", json!({}));
        assert_eq!(names(&table, &cdevent), ["cdevents", "rule:a", "rule:b"]);

        let mut routes = vec![route("only-b", &["rule:b", "github"])];
        routes[0].type_prefix = Some("com.example.".into());
        routes.push(route("all", &["rules"]));
        let table = RoutingTable::new(&routes, &SourcesConfig::default(), &rules).unwrap();
        assert_eq!(
            names(&table, &event("com.example.other", json!({}))),
            ["rule:b", "github", "rule:a"]
        );
    }

    #[test]
    fn rule_mistakes_are_named() {
        let error = |routes: &[RouteConfig], rules: &[RuleConfig]| {
            RoutingTable::new(routes, &SourcesConfig::default(), rules)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            error(&[route("r", &["rule:nope"])], &[]),
            "route \"r\": names rule:nope, but no [[rules]] entry is named \"nope\""
        );
        assert_eq!(
            error(
                &[route("r", &["rule:a"])],
                &[rule("a", "true"), rule("b", "true")]
            ),
            "rule \"b\": no route names it: add \"rules\" or \"rule:b\" to a route's transformers"
        );
        assert_eq!(
            error(
                &[route("r", &["rules"])],
                &[rule("a", "true"), rule("a", "false")]
            ),
            "rule \"a\": another rule has the same name"
        );
        assert!(error(&[route("r", &["rules"])], &[rule("a", ".type ==")])
            .starts_with("rule \"a\": match: expected term"));
    }

    #[test]
    fn routes_name_configured_functions_and_the_router_gets_them_apart() {
        let routes = [route(
            "releases",
            &["http:releases", "cdevents", "http:releases"],
        )];
        let error = RoutingTable::new(&routes, &SourcesConfig::default(), &[])
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "route \"releases\": names http:releases, but no [functions.releases] entry is configured"
        );
        let table =
            RoutingTable::with_functions(&routes, &SourcesConfig::default(), &[], &["releases"])
                .unwrap();
        let release = event("com.example.release", json!({}));
        assert_eq!(table.functions_for(&release), ["releases"]);
        assert_eq!(names(&table, &release), ["cdevents"]);
    }

    #[test]
    fn transformer_names_parse_and_print_back() {
        for name in [
            "github",
            "cdevents",
            "rules",
            "rule:jenkins-deploy",
            "http:releases",
        ] {
            let parsed = TransformerRef::try_from(name.to_owned()).unwrap();
            assert_eq!(parsed.to_string(), name);
        }
        let error = TransformerRef::try_from("bamboo".to_owned()).unwrap_err();
        assert!(error.contains("unknown transformer \"bamboo\""), "{error}");
        assert!(error.contains("\"rule:<name>\""), "{error}");
        assert!(TransformerRef::try_from("rule:".to_owned()).is_err());
        assert!(TransformerRef::try_from("rule:a b".to_owned()).is_err());
    }

    #[test]
    fn bad_routes_are_named() {
        let mut route = default_routes().remove(0);
        route.transformers.clear();
        let err = RoutingTable::new(&[route], &SourcesConfig::default(), &[]).unwrap_err();
        assert!(
            matches!(&err, RoutingError::Route(e) if e.route == "kubernetes-deployment-events"),
            "{err}"
        );
        let mut route = default_routes().remove(0);
        route.data.insert("x..y".into(), json!(1));
        assert!(RoutingTable::new(&[route], &SourcesConfig::default(), &[])
            .unwrap_err()
            .to_string()
            .contains("x..y"));
    }
}
