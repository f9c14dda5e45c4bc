//! `dora-events backfill github`: a repository's history from the GitHub REST API (v3), sent
//! through the `github` source as if its webhooks had delivered it.
//!
//! * `kinds`: what is read per repository (deployments with their statuses, closed pull
//!   requests, the default branch's commits, incident issues, workflow runs, releases);
//! * `payloads`: REST objects -> webhook payloads -> CloudEvents, with ids made from the objects.
//!
//! The client, the sink, the checkpoints and the report are shared with GitLab (`backfill`).

pub mod kinds;
pub mod payloads;

use std::collections::BTreeMap;

use anyhow::Context;
use indicatif::ProgressBar;

use super::client::ApiClient;
use super::sink::Sink;
use super::{backfill_kinds, is_path_segment, run_each, KindReport, MAX_PAGES};
use kinds::{Kind, RepoContext, Window};

/// What a GitHub backfill did, per repository and kind.
pub type Report = super::Report<Kind>;

/// What to backfill.
#[derive(Debug, Clone)]
pub struct Options {
    /// `owner/name`, each.
    pub repos: Vec<String>,
    pub kinds: Vec<Kind>,
    pub window: Window,
    /// `[sources.github] incident_label`.
    pub incident_label: String,
    /// Repositories `[[services]]` splits by path: each commit their pushes list is read again
    /// with its files (`GET /repos/{repo}/commits/{sha}`, one request a commit), so that a
    /// backfilled push splits by service as its webhook does.
    pub file_lists_for: Vec<String>,
    /// Draw progress bars (when standard error is a terminal).
    pub progress: bool,
}

/// The repositories of an organization (`GET /orgs/{org}/repos`), archived ones left out.
pub async fn org_repos(client: &ApiClient, org: &str) -> anyhow::Result<Vec<String>> {
    let mut url = Some(client.url(&format!("/orgs/{org}/repos?type=all&per_page=100")));
    let mut repos = Vec::new();
    let mut pages = 0;
    while let Some(next) = url.take() {
        pages += 1;
        anyhow::ensure!(
            pages <= MAX_PAGES,
            "--org {org}: more than {MAX_PAGES} pages"
        );
        let page = client
            .page(&next, None)
            .await
            .with_context(|| format!("--org {org}"))?;
        for repo in page.items {
            if repo["archived"].as_bool() != Some(true) {
                repos.extend(repo["full_name"].as_str().map(str::to_owned));
            }
        }
        url = page.next;
    }
    Ok(repos)
}

/// Backfills every repository of `options` into `sink`. Stops at the first error (naming the
/// repository, the endpoint and the status); what was stored until then stays, with its
/// checkpoints, and the same command resumes from there.
pub async fn run(client: &ApiClient, sink: &Sink, options: &Options) -> anyhow::Result<Report> {
    run_each(
        client,
        sink,
        &options.repos,
        options.progress,
        |repo, bar| backfill_repo(client, sink, options, repo, bar),
    )
    .await
}

/// One repository: every kind in turn. The reports, and the names of the checkpoints it used.
async fn backfill_repo(
    client: &ApiClient,
    sink: &Sink,
    options: &Options,
    repo: String,
    bar: ProgressBar,
) -> anyhow::Result<(BTreeMap<Kind, KindReport>, Vec<String>)> {
    let repo = repo.as_str();
    anyhow::ensure!(is_repo_name(repo), "{repo:?} is not OWNER/NAME");
    let rest = client
        .object(&client.url(&format!("/repos/{repo}")))
        .await?;
    let repository = payloads::repository(&rest);
    let default_branch = rest["default_branch"].as_str().unwrap_or("main").to_owned();
    let context = RepoContext {
        client,
        full_name: repo,
        repository: &repository,
        default_branch: &default_branch,
        incident_label: &options.incident_label,
        window: options.window,
        with_files: options
            .file_lists_for
            .iter()
            .any(|name| name.eq_ignore_ascii_case(repo)),
    };
    // `[sources.github] incident_label = ""`: no issue is an incident.
    let no_label = options.incident_label.trim().is_empty();
    let kinds = options.kinds.iter().copied();
    let kinds = kinds.filter(|&kind| !(kind == Kind::Incidents && no_label));
    backfill_kinds("github", &context, sink, repo, kinds, &options.window, &bar).await
}

/// `OWNER/NAME` of the characters GitHub allows (letters, digits, `-`, `_`, `.`).
pub fn is_repo_name(repo: &str) -> bool {
    repo.split_once('/')
        .is_some_and(|(owner, name)| is_path_segment(owner) && is_path_segment(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_are_owner_slash_name() {
        for good in ["acme/shop", "a-b/c.d_e", "o/.github"] {
            assert!(is_repo_name(good), "{good}");
        }
        for bad in [
            "acme", "acme/", "/shop", "a/b/c", "a/b?x=1", "a/..", "a b/c", "",
        ] {
            assert!(!is_repo_name(bad), "{bad}");
        }
    }
}
