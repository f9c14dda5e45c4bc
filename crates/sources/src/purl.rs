//! Package URLs (<https://github.com/package-url/purl-spec>) of what sources deploy: container
//! images (`oci`), Kubernetes Deployments, and anything else by name (`generic`). The
//! repositories' own purls are with their code host (`github_purl`, `gitlab_purl`).

use crate::common::percent_encode;

/// The purl (type `oci`, <https://github.com/package-url/purl-spec>) of a container image
/// reference as Kubernetes takes it; `None` when it is not one.
///
/// * The first path segment is a registry only if it contains `.` or `:` or is `localhost`;
///   otherwise the registry is Docker Hub (`docker.io`, with `library/` for one-segment names).
/// * The name is the last path segment, lowercased; `repository_url` is registry + path.
/// * A digest (`@sha256:...`) is the version (`:` percent-encoded); a tag is the `tag` qualifier;
///   with neither, the tag is `latest` (what the container runtime pulls).
///
/// ```
/// use dora_sources::purl::oci_purl;
/// assert_eq!(
///     oci_purl("nginx:1.14.2").as_deref(),
///     Some("pkg:oci/nginx?repository_url=docker.io/library/nginx&tag=1.14.2")
/// );
/// ```
pub fn oci_purl(image: &str) -> Option<String> {
    let image = image.trim();
    let (reference, digest) = match image.split_once('@') {
        Some((reference, digest)) => (reference, Some(digest)),
        None => (image, None),
    };
    let last_slash = reference.rfind('/');
    let (repository, tag) = match reference.rfind(':') {
        Some(colon) if last_slash.is_none_or(|slash| colon > slash) => {
            (&reference[..colon], Some(&reference[colon + 1..]))
        }
        _ => (reference, None),
    };
    let (registry, path) = match repository.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first, rest)
        }
        _ => ("docker.io", repository),
    };
    let registry = if registry == "index.docker.io" {
        "docker.io"
    } else {
        registry
    };
    let path = if registry == "docker.io" && !path.contains('/') {
        format!("library/{path}")
    } else {
        path.to_owned()
    };
    let name = path
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if name.is_empty()
        || path.split('/').any(str::is_empty)
        || registry.is_empty()
        || tag.is_some_and(str::is_empty)
        || digest.is_some_and(|d| d.is_empty() || !d.contains(':'))
        || image.chars().any(char::is_whitespace)
    {
        return None;
    }
    let tag = match (tag, digest) {
        (None, None) => Some("latest"),
        (tag, _) => tag,
    };
    let mut purl = format!("pkg:oci/{}", percent_encode(&name, b""));
    if let Some(digest) = digest {
        purl.push('@');
        purl.push_str(&percent_encode(digest, b""));
    }
    purl.push_str("?repository_url=");
    purl.push_str(&percent_encode(&format!("{registry}/{path}"), b":/"));
    if let Some(tag) = tag {
        purl.push_str("&tag=");
        purl.push_str(&percent_encode(tag, b""));
    }
    Some(purl)
}

/// The purl standing for a Deployment when no image is known (Events):
/// `pkg:generic/<namespace>/<name>`. purl has no registered type for Kubernetes objects.
pub fn deployment_purl(namespace: &str, name: &str) -> String {
    format!(
        "pkg:generic/{}/{}",
        percent_encode(namespace, b""),
        percent_encode(name, b"")
    )
}

/// `pkg:generic/<name>@<version>` (`@<version>` only with a version), percent-encoded.
pub fn generic_purl(name: &str, version: Option<&str>) -> String {
    let mut purl = format!("pkg:generic/{}", percent_encode(name, b""));
    if let Some(version) = version {
        purl.push('@');
        purl.push_str(&percent_encode(version, b""));
    }
    purl
}
