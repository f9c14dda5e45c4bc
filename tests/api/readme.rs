//! Every command in the README is run: the commands of its `bash` blocks either run here, against
//! a server started the way the README starts one, or are run by CI (`.ci/run`), which this test
//! checks. A command this test does not know how to run fails it, so a new README command cannot
//! go untested.
//!
//! How README commands map to what runs here:
//! - `cargo run --release -- ARGS` and `dora-events ARGS` run this build's binary with ARGS;
//! - `... serve` starts the server the later commands talk to, on a free port and a fresh SQLite
//!   file (`DORA_LISTEN`, `DORA_DATABASE_URL`: the command line itself is left as written);
//! - `curl` and other `dora-events` commands run as written, with `localhost:8080` pointing at
//!   that server, and must succeed (`curl --fail`);
//! - `demo`, `scripts/*.sh` and `cargo nextest` take minutes or are this very run: `.ci/run` must
//!   run them (the demo and scripts with `--exit`).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::helpers::poll_until;

/// The commands of the README's `bash` blocks: comments dropped, continuation lines (a trailing
/// `\`, or an open quote) joined.
fn readme_commands(readme: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_bash = false;
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for line in readme.lines() {
        let trimmed = line.trim();
        if !in_bash {
            in_bash = trimmed == "```bash";
            continue;
        }
        if trimmed == "```" && quote.is_none() {
            in_bash = false;
            continue;
        }
        if quote.is_none() && current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#'))
        {
            continue;
        }
        // Scan for quotes and a comment outside them.
        let mut text = String::new();
        for c in line.chars() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == '\'' || c == '"' => quote = Some(c),
                None if c == '#' && (text.is_empty() || text.ends_with(' ')) => break,
                None => {}
            }
            text.push(c);
        }
        // A continued line's indentation is layout, unless it continues a quoted string.
        let text = if current.is_empty() || current.ends_with('\n') {
            text.trim_end()
        } else {
            text.trim()
        };
        if quote.is_some() {
            current.push_str(text);
            current.push('\n');
        } else if let Some(head) = text.strip_suffix('\\') {
            current.push_str(head.trim_end());
            current.push(' ');
        } else {
            current.push_str(text);
            commands.push(current.trim().to_owned());
            current.clear();
        }
    }
    commands
}

/// A `serve` child process; killed when dropped.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sh(command: &str, env: &[(&str, String)]) -> std::process::Output {
    let mut shell = Command::new("sh");
    shell.arg("-c").arg(command).env("RUST_LOG", "warn");
    for (key, value) in env {
        shell.env(key, value);
    }
    shell.output().expect("sh runs")
}

#[test]
fn readme_commands_are_found_with_their_continuations() {
    let readme = "text\n```bash\n# a comment\nfoo --bar  # says foo\ncurl x \\\n  -d '{\"a\": 1,\n \"b\": 2}'\n```\n```text\nnot a command\n```\n";
    assert_eq!(
        readme_commands(readme),
        ["foo --bar", "curl x -d '{\"a\": 1,\n \"b\": 2}'"]
    );
}

#[tokio::test]
async fn every_command_in_the_readme_is_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
    let commands = readme_commands(&readme);
    assert!(commands.len() >= 5, "{commands:?}");
    assert!(
        commands[0].contains(" demo"),
        "the first command is the demo: {commands:?}"
    );
    assert_eq!(
        commands[1], "cargo nextest run --workspace",
        "the second runs the tests"
    );

    let binary = env!("CARGO_BIN_EXE_dora-events");
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let env = [
        ("DORA_LISTEN", address.clone()),
        (
            "DORA_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("readme.db").display()),
        ),
    ];
    let client = reqwest::Client::new();
    let mut server: Option<Server> = None;
    for command in &commands {
        let runnable = command
            .replace("cargo run --release --", binary)
            .replace("localhost:8080", &address)
            .replace("127.0.0.1:8080", &address);
        let runnable = match runnable.strip_prefix("dora-events ") {
            Some(rest) => format!("{binary} {rest}"),
            None => runnable,
        };
        let words: Vec<&str> = runnable.split_whitespace().collect();
        let run_by_ci = |line: &str| {
            assert!(
                ci.lines().any(|l| l.contains(line)),
                "README command {command:?}: .ci/run must run `{line}`"
            );
        };
        let demo = words.first() == Some(&binary) && words.get(1) == Some(&"demo");
        if demo || words.first().is_some_and(|w| w.starts_with("scripts/")) {
            run_by_ci(&format!("{command} --exit"));
        } else if command.starts_with("cargo nextest run") {
            run_by_ci(command);
        } else if words.first() == Some(&binary) && words.get(1) == Some(&"serve") {
            assert!(server.is_none(), "one server: {command}");
            let mut child = Command::new("sh");
            child
                .arg("-c")
                .arg(format!("exec {runnable}"))
                .env("RUST_LOG", "warn")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            for (key, value) in &env {
                child.env(key, value);
            }
            server = Some(Server(child.spawn().unwrap()));
            poll_until(Duration::from_secs(30), || async {
                match client.get(format!("http://{address}/readyz")).send().await {
                    Ok(r) if r.status().is_success() => Some(()),
                    _ => None,
                }
            })
            .await;
        } else if words.first() == Some(&"curl") || words.first() == Some(&binary) {
            assert!(
                server.is_some(),
                "{command:?} needs a server started before it"
            );
            let runnable = match runnable.strip_prefix("curl ") {
                Some(rest) => format!("curl --fail --silent --show-error {rest}"),
                None => runnable,
            };
            let env = env.to_vec();
            let output = tokio::task::spawn_blocking(move || sh(&runnable, &env))
                .await
                .unwrap();
            assert!(
                output.status.success(),
                "README command failed: {command}\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        } else {
            panic!(
                "README command {command:?} is run by no test: teach tests/api/readme.rs to run it"
            );
        }
    }
    assert!(server.is_some(), "the README starts a server");
}
