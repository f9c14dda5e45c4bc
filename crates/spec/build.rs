//! Embeds every JSON schema under `schemas/` into the crate.
//!
//! Writes `$OUT_DIR/schemas.rs`: a sorted table of `(release dir, path in release, contents)` where
//! contents is an `include_str!` of the file, so the binary carries the schemas and reads no file at
//! run time.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

fn main() -> io::Result<()> {
    println!("cargo:rerun-if-changed=schemas");
    println!("cargo:rerun-if-changed=build.rs");

    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR")?);
    let root = manifest_dir.join("schemas");

    // (release dir such as "v0.5.1", path inside it such as "schemas/links/linkend.json", absolute path)
    let mut entries: Vec<(String, String, PathBuf)> = Vec::new();
    for release in sorted_dir(&root)? {
        if !release.is_dir() {
            continue; // NOTICE.md and friends
        }
        let release_name = file_name(&release)?;
        println!("cargo:rerun-if-changed={}", release.display());
        let mut files = Vec::new();
        collect_json(&release, &mut files)?;
        for file in files {
            let rel = file
                .strip_prefix(&release)
                .map_err(|e| io::Error::other(e.to_string()))?
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            entries.push((release_name.clone(), rel, file));
        }
    }
    entries.sort();

    let mut out = String::from(
        "/// Every embedded schema: (release directory, path inside it, file contents).\n\
         pub(crate) static SCHEMA_FILES: &[(&str, &str, &str)] = &[\n",
    );
    for (release, rel, path) in &entries {
        let abs = path.to_str().ok_or_else(|| {
            io::Error::other(format!("schema path is not UTF-8: {}", path.display()))
        })?;
        writeln!(out, "    ({release:?}, {rel:?}, include_str!({abs:?})),")
            .map_err(|e| io::Error::other(e.to_string()))?;
    }
    out.push_str("];\n");

    let out_dir = PathBuf::from(env("OUT_DIR")?);
    std::fs::write(out_dir.join("schemas.rs"), out)
}

fn env(name: &str) -> io::Result<String> {
    std::env::var(name).map_err(|e| io::Error::other(format!("{name}: {e}")))
}

fn file_name(path: &Path) -> io::Result<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .ok_or_else(|| io::Error::other(format!("bad file name: {}", path.display())))
}

fn sorted_dir(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut paths = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<io::Result<Vec<_>>>()?;
    paths.sort();
    Ok(paths)
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for path in sorted_dir(dir)? {
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect_json(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "json") {
            out.push(path);
        }
    }
    Ok(())
}
