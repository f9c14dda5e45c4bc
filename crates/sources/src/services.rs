//! `[[services]]`: the services of a monorepo. Each entry maps a repository and path globs to a
//! service (and optionally a team). The code-host transformers (GitHub, GitLab) split a push to
//! such a repository into one change per service its commits touched
//! (`crate::code_host`); the team joins the service -> team map of `[dora] teams`.
//!
//! ```toml
//! [[services]]
//! name = "api"
//! repository = "acme/monorepo"
//! paths = ["services/api/**", "libs/common/**"]
//! team = "payments"
//! ```

use serde::{Deserialize, Serialize};

use crate::glob::PathGlob;

/// One `[[services]]` entry as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// The service: `customData.dora.service` of its changes, the name deployments use.
    pub name: String,
    /// `<owner>/<name>` (GitHub `full_name`, Bitbucket full name) or GitLab's
    /// `path_with_namespace`; compared without case, as the tools do.
    pub repository: String,
    /// Globs of the paths that belong to the service, relative to the repository's root
    /// (`services/api/**`, `libs/common/*.rs`; [`PathGlob`]).
    pub paths: Vec<String>,
    /// The team owning the service (`[dora] teams` wins when it names the service too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

/// A `[[services]]` entry that does not make sense, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("services[{index}].{field}: {reason}")]
pub struct ServicesError {
    /// The entry's position in `[[services]]`, from 0.
    pub index: usize,
    /// The field, with its position for `paths` (`paths[1]`).
    pub field: String,
    pub reason: String,
}

/// A compiled entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceEntry {
    pub(crate) name: String,
    repository: String,
    paths: Vec<PathGlob>,
    pub(crate) team: Option<String>,
}

impl ServiceEntry {
    /// Whether any of `files` belongs to the service.
    fn touched_by<'f>(&self, mut files: impl Iterator<Item = &'f str>) -> bool {
        files.any(|file| self.paths.iter().any(|glob| glob.matches(file)))
    }
}

/// `[[services]]`, compiled: the entries in the order written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceMap {
    entries: Vec<ServiceEntry>,
}

impl ServiceMap {
    /// Checks and compiles the entries: a name, a `<owner>/<name>` repository, at least one
    /// path, globs that compile, a non-empty team, and one team per service.
    pub fn new(configs: &[ServiceConfig]) -> Result<Self, ServicesError> {
        let mut entries: Vec<ServiceEntry> = Vec::with_capacity(configs.len());
        for (index, config) in configs.iter().enumerate() {
            let error = |field: &str, reason: String| ServicesError {
                index,
                field: field.to_owned(),
                reason,
            };
            let name = config.name.trim();
            if name.is_empty() {
                return Err(error("name", "is empty".into()));
            }
            let repository = config.repository.trim().trim_matches('/');
            let (owner, rest) = repository.split_once('/').unwrap_or((repository, ""));
            if owner.is_empty() || rest.is_empty() || repository.contains("//") {
                return Err(error(
                    "repository",
                    format!("{:?} is not <owner>/<name>", config.repository),
                ));
            }
            if config.paths.is_empty() {
                return Err(error(
                    "paths",
                    "is empty: list the globs of the service's paths".into(),
                ));
            }
            let paths = config
                .paths
                .iter()
                .enumerate()
                .map(|(i, pattern)| {
                    PathGlob::new(pattern).map_err(|e| error(&format!("paths[{i}]"), e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let team = match config.team.as_deref().map(str::trim) {
                Some("") => return Err(error("team", "is empty".into())),
                team => team.map(str::to_owned),
            };
            let other_team = entries
                .iter()
                .find(|e| e.name == name && e.team.is_some() && team.is_some() && e.team != team);
            if let Some(other) = other_team {
                return Err(error(
                    "team",
                    format!(
                        "service {name:?} already has team {:?} in an earlier entry",
                        other.team.as_deref().unwrap_or_default()
                    ),
                ));
            }
            entries.push(ServiceEntry {
                name: name.to_owned(),
                repository: repository.to_owned(),
                paths,
                team,
            });
        }
        Ok(Self { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The service -> team pairs the entries give, in order (one per service).
    pub fn teams(&self) -> Vec<(&str, &str)> {
        let mut teams: Vec<(&str, &str)> = Vec::new();
        for entry in &self.entries {
            if let Some(team) = &entry.team {
                if !teams.iter().any(|(service, _)| *service == entry.name) {
                    teams.push((&entry.name, team));
                }
            }
        }
        teams
    }

    /// Whether an entry names `repository` (compared without case): its pushes split by path.
    pub fn splits(&self, repository: &str) -> bool {
        !self.of_repository(repository).is_empty()
    }

    /// The entries of `repository` (compared without case).
    pub(crate) fn of_repository(&self, repository: &str) -> Vec<&ServiceEntry> {
        self.entries
            .iter()
            .filter(|e| e.repository.eq_ignore_ascii_case(repository))
            .collect()
    }

    /// Which of `entries` the files of a commit touch (their positions in `entries`).
    pub(crate) fn touched<'f>(
        entries: &[&ServiceEntry],
        files: impl Iterator<Item = &'f str> + Clone,
    ) -> Vec<usize> {
        entries
            .iter()
            .enumerate()
            .filter(|(_, entry)| entry.touched_by(files.clone()))
            .map(|(i, _)| i)
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry(name: &str, paths: &[&str], team: Option<&str>) -> ServiceConfig {
        ServiceConfig {
            name: name.into(),
            repository: "acme/monorepo".into(),
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            team: team.map(str::to_owned),
        }
    }

    #[test]
    fn a_commit_belongs_to_every_service_whose_paths_it_touches() {
        let map = ServiceMap::new(&[
            entry(
                "api",
                &["services/api/**", "libs/common/*.rs"],
                Some("payments"),
            ),
            entry("web", &["services/web/**"], None),
        ])
        .unwrap();
        let entries = map.of_repository("ACME/Monorepo");
        assert_eq!(entries.len(), 2, "repositories compare without case");
        assert!(map.of_repository("acme/other").is_empty());
        let touched = |files: &[&str]| ServiceMap::touched(&entries, files.iter().copied());
        assert_eq!(touched(&["services/api/src/main.rs"]), [0]);
        assert_eq!(touched(&["libs/common/money.rs"]), [0]);
        assert_eq!(touched(&["libs/common/deep/money.rs"]), Vec::<usize>::new());
        assert_eq!(touched(&["services/web/a.ts", "libs/common/x.rs"]), [0, 1]);
        assert_eq!(touched(&["README.md"]), Vec::<usize>::new());
        assert_eq!(touched(&[]), Vec::<usize>::new());
        assert_eq!(map.teams(), [("api", "payments")]);
    }

    #[test]
    fn entries_that_make_no_sense_are_errors_naming_the_field() {
        let message = |configs: &[ServiceConfig]| ServiceMap::new(configs).unwrap_err().to_string();
        assert_eq!(
            message(&[entry("api", &[], None)]),
            "services[0].paths: is empty: list the globs of the service's paths"
        );
        assert!(message(&[
            entry("api", &["a/**"], None),
            entry("web", &["ok", "x/a**"], None)
        ])
        .starts_with("services[1].paths[1]: \"x/a**\" has '**' inside a segment"));
        assert!(message(&[entry(" ", &["a"], None)]).starts_with("services[0].name:"));
        let mut bad = entry("api", &["a"], None);
        bad.repository = "monorepo".into();
        assert_eq!(
            message(&[bad]),
            "services[0].repository: \"monorepo\" is not <owner>/<name>"
        );
        assert!(message(&[entry("api", &["a"], Some(""))]).starts_with("services[0].team:"));
        assert!(message(&[
            entry("api", &["a/**"], Some("payments")),
            entry("api", &["b/**"], Some("checkout")),
        ])
        .starts_with("services[1].team: service \"api\" already has team \"payments\""));
    }

    #[test]
    fn unknown_keys_of_an_entry_are_refused() {
        let error = serde_json::from_value::<ServiceConfig>(serde_json::json!({
            "name": "api", "repository": "acme/monorepo", "paths": ["a/**"], "owner": "x"
        }))
        .unwrap_err();
        assert!(
            error.to_string().contains("unknown field `owner`"),
            "{error}"
        );
    }
}
