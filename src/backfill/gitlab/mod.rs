//! `dora-events backfill gitlab`: a project's history from the GitLab REST API (v4), sent through
//! the `gitlab` source as if its webhooks had delivered it.
//!
//! * `rest`: the API's objects, as far as the backfill reads them;
//! * `kinds`: what is read per project (finished deployments, merge requests with the commits
//!   of the merged ones, incident issues, finished pipelines);
//! * `payloads`: REST objects -> webhook payloads -> CloudEvents, with ids made from the objects.
//!
//! The client, the sink, the checkpoints and the report are shared with GitHub (`backfill`).

pub mod kinds;
pub mod payloads;
pub mod rest;

use std::collections::BTreeMap;

use anyhow::Context;
use indicatif::ProgressBar;
use reqwest::header::HeaderMap;

use super::client::{secret, ApiClient, Dialect, Limits, Notice};
use super::sink::Sink;
use super::window::Window;
use super::{backfill_kinds, is_path_segment, read_all, run_each, KindReport};
use kinds::{project_id, Kind, ProjectContext};
use payloads::HookProject;

/// A group's project pages read at most (100 projects each).
const MAX_GROUP_PAGES: usize = 1_000;

/// GitLab's REST API (v4).
pub static GITLAB: Dialect = Dialect {
    tool: "GitLab",
    headers: gitlab_headers,
    remaining: "RateLimit-Remaining",
    reset: "RateLimit-Reset",
    forbidden_may_limit: false,
    next_page: Some("x-next-page"),
    next_in_body: None,
    unauthorized_hint: " (check GITLAB_TOKEN or --token-file: a token with the read_api scope)",
    not_found_hint: " (no such project or group, or the token cannot read it)",
};

fn gitlab_headers(token: Option<&str>) -> anyhow::Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    if let Some(token) = token {
        headers.insert("PRIVATE-TOKEN", secret(token, "GitLab")?);
    }
    Ok(headers)
}

/// A client of the GitLab at `api_url` (`https://gitlab.com`, or a self-managed instance; the
/// API is under `/api/v4`), sending `token` as `PRIVATE-TOKEN` when given.
pub fn client(
    api_url: &str,
    token: Option<&str>,
    limits: Limits,
    notice: Notice,
) -> anyhow::Result<ApiClient> {
    ApiClient::with_dialect(&GITLAB, api_url, token, limits, notice)
}

/// What a GitLab backfill did, per project and kind.
pub type Report = super::Report<Kind>;

/// What to backfill.
#[derive(Debug, Clone)]
pub struct Options {
    /// `group/name` (or `group/subgroup/name`), each.
    pub projects: Vec<String>,
    pub kinds: Vec<Kind>,
    pub window: Window,
    /// `[sources.gitlab] incident_label`.
    pub incident_label: String,
    /// Projects `[[services]]` splits by path: the commits of each landing push are read with
    /// their files (`GET /repository/commits/:sha/diff`, one request a commit), so that a
    /// backfilled push splits by service as its webhook does.
    pub file_lists_for: Vec<String>,
    /// Draw progress bars (when standard error is a terminal).
    pub progress: bool,
}

/// The projects of a group and its subgroups
/// (`GET /groups/:id/projects?include_subgroups=true`), archived ones left out.
pub async fn group_projects(client: &ApiClient, group: &str) -> anyhow::Result<Vec<String>> {
    anyhow::ensure!(
        is_project_path(&format!("{group}/x")),
        "--group {group:?} is not a group path"
    );
    let url = client.url(&format!(
        "/api/v4/groups/{}/projects?include_subgroups=true&archived=false&per_page=100",
        project_id(group)
    ));
    let items = read_all(client, url, MAX_GROUP_PAGES)
        .await
        .with_context(|| format!("--group {group}"))?;
    Ok(items
        .iter()
        .filter(|project| project["archived"].as_bool() != Some(true))
        .filter_map(|project| project["path_with_namespace"].as_str().map(str::to_owned))
        .collect())
}

/// Backfills every project of `options` into `sink`. Stops at the first error (naming the
/// project, the endpoint and the status); what was stored until then stays, with its
/// checkpoints, and the same command resumes from there.
pub async fn run(client: &ApiClient, sink: &Sink, options: &Options) -> anyhow::Result<Report> {
    run_each(
        client,
        sink,
        &options.projects,
        options.progress,
        |path, bar| backfill_project(client, sink, options, path, bar),
    )
    .await
}

/// One project: every kind in turn. The reports, and the names of the checkpoints it used.
async fn backfill_project(
    client: &ApiClient,
    sink: &Sink,
    options: &Options,
    path: String,
    bar: ProgressBar,
) -> anyhow::Result<(BTreeMap<Kind, KindReport>, Vec<String>)> {
    anyhow::ensure!(
        is_project_path(&path),
        "{path:?} is not GROUP/NAME (or GROUP/SUBGROUP/NAME)"
    );
    let url = client.url(&format!("/api/v4/projects/{}", project_id(&path)));
    let object = client.object(&url).await?;
    let project: rest::Project = rest::read(&object, client.endpoint(&url))?;
    let hook_project = HookProject::new(&project);
    let context = ProjectContext {
        client,
        path: &path,
        project: &hook_project,
        incident_label: &options.incident_label,
        window: options.window,
        with_files: options
            .file_lists_for
            .iter()
            .any(|name| name.eq_ignore_ascii_case(&path)),
    };
    // `[sources.gitlab] incident_label = ""`: only GitLab's own incidents.
    let no_label = options.incident_label.trim().is_empty();
    let kinds = options.kinds.iter().copied();
    let kinds = kinds.filter(|&kind| !(kind == Kind::IncidentLabel && no_label));
    backfill_kinds(
        "gitlab",
        &context,
        sink,
        &path,
        kinds,
        &options.window,
        &bar,
    )
    .await
}

/// `GROUP/NAME`, or with subgroups `GROUP/SUB/NAME`, of the characters GitLab allows in paths
/// (letters, digits, `-`, `_`, `.`).
pub fn is_project_path(path: &str) -> bool {
    path.contains('/') && path.split('/').all(is_path_segment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_paths_are_groups_and_a_name() {
        for good in ["acme/shop", "acme/web/shop", "a-b/c.d_e"] {
            assert!(is_project_path(good), "{good}");
        }
        for bad in [
            "acme", "acme/", "/shop", "a//b", "a/b?x=1", "a/..", "a b/c", "",
        ] {
            assert!(!is_project_path(bad), "{bad}");
        }
        assert_eq!(project_id("acme/web/shop"), "acme%2Fweb%2Fshop");
    }
}
