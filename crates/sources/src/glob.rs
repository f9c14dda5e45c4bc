//! Glob patterns, shared by the sources that match names with them: Jenkins deploy jobs and
//! Tekton deploy pipelines ([`matches_text`], `*` is any text, `?` any one character) and the paths of `[[services]]` ([`PathGlob`], `*` stays
//! within one path segment and `**` crosses `/`).
//!
//! No character classes and no escapes: `[`, `]`, `{`, `}` and `\` are refused in path globs
//! (a pattern copied from a tool that supports them would silently match something else).

use std::fmt;

/// Whether `name` matches `pattern`, where `*` stands for any text (none included, `/`
/// included), `?` for any one character and every other character for itself.
pub fn matches_text(pattern: &str, name: &str) -> bool {
    let tokens: Vec<Token> = pattern
        .chars()
        .map(|c| match c {
            '*' => Token::AnyText,
            '?' => Token::AnyChar,
            c => Token::Char(c),
        })
        .collect();
    matches(&tokens, name)
}

/// One element of a compiled pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// This character.
    Char(char),
    /// `?` in a path glob: one character other than `/`.
    OneChar,
    /// `?` of [`matches_text`]: any one character.
    AnyChar,
    /// `*` in a path glob: any text without `/`.
    InSegment,
    /// `**` (a whole segment, at the end or before `/`), and `*` of [`matches_text`]: any text.
    AnyText,
    /// `**/`: nothing, or any text that ends with `/` (zero or more directories).
    AnyDirectories,
}

/// A glob over `/`-separated relative paths (`services/api/**`, `libs/common/*.rs`,
/// `**/Dockerfile`): `*` is any text within one segment, `?` one character other than `/`,
/// `**` as a whole segment any number of segments (`a/**/b` matches `a/b` and `a/x/y/b`; a
/// trailing `/**` everything under the directory). Matching is case-sensitive, as git is.
#[derive(Clone, PartialEq, Eq)]
pub struct PathGlob {
    pattern: String,
    tokens: Vec<Token>,
}

/// Why a path glob does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    /// The pattern is empty.
    #[error("an empty pattern matches no path")]
    Empty,
    /// Paths are relative to the repository's root.
    #[error("{0:?} starts with '/': paths are relative to the repository's root")]
    Absolute(String),
    /// `**` is only meaningful as a whole segment.
    #[error("{0:?} has '**' inside a segment: write it as a whole segment (a/**/b, a/**)")]
    DoubleStarInSegment(String),
    /// Character classes, alternatives and escapes are not supported.
    #[error("{0:?} has {1:?}: character classes, alternatives and escapes are not supported")]
    Unsupported(String, char),
}

impl PathGlob {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> Result<Self, GlobError> {
        if pattern.is_empty() {
            return Err(GlobError::Empty);
        }
        if pattern.starts_with('/') {
            return Err(GlobError::Absolute(pattern.to_owned()));
        }
        if let Some(c) = pattern
            .chars()
            .find(|c| matches!(c, '[' | ']' | '{' | '}' | '\\'))
        {
            return Err(GlobError::Unsupported(pattern.to_owned(), c));
        }
        let segments: Vec<&str> = pattern.split('/').collect();
        let mut tokens = Vec::with_capacity(pattern.len());
        for (i, segment) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            if *segment == "**" {
                tokens.push(if last {
                    Token::AnyText
                } else {
                    Token::AnyDirectories
                });
                continue;
            }
            if segment.contains("**") {
                return Err(GlobError::DoubleStarInSegment(pattern.to_owned()));
            }
            tokens.extend(segment.chars().map(|c| match c {
                '*' => Token::InSegment,
                '?' => Token::OneChar,
                c => Token::Char(c),
            }));
            if !last {
                tokens.push(Token::Char('/'));
            }
        }
        Ok(Self {
            pattern: pattern.to_owned(),
            tokens,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether `path` (relative, `/`-separated) matches.
    pub fn matches(&self, path: &str) -> bool {
        matches(&self.tokens, path)
    }
}

impl fmt::Debug for PathGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PathGlob({:?})", self.pattern)
    }
}

/// Whether `text` matches `tokens`: dynamic programming over (token, position), so the cost
/// is at most tokens × characters, whatever the stars (no exponential backtracking).
fn matches(tokens: &[Token], text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    // `next[j]`: tokens[i + 1..] match chars[j..]; `current[j]`: tokens[i..] match chars[j..].
    let mut next = vec![false; n + 1];
    next[n] = true;
    for token in tokens.iter().rev() {
        let mut current = vec![false; n + 1];
        for j in (0..=n).rev() {
            let here = chars.get(j).copied();
            current[j] = match *token {
                Token::Char(c) => here == Some(c) && next[j + 1],
                Token::OneChar => here.is_some_and(|c| c != '/') && next[j + 1],
                Token::AnyChar => here.is_some() && next[j + 1],
                // Match nothing here, or one more character and stay on the star.
                Token::InSegment => next[j] || (here.is_some_and(|c| c != '/') && current[j + 1]),
                Token::AnyText => next[j] || (here.is_some() && current[j + 1]),
                // Nothing, or text up to and including a `/`, then the rest.
                Token::AnyDirectories => next[j] || (j..n).any(|k| chars[k] == '/' && next[k + 1]),
            };
        }
        next = current;
    }
    next[0]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn text_globs_match_any_text_where_the_star_stands() {
        for (pattern, name, expected) in [
            ("*deploy*", "shop/deploy-prod", true),
            ("*deploy*", "deploy", true),
            ("*deploy*", "shop/build", false),
            ("shop/*", "shop/deploy", true),
            ("shop/*", "shop/a/deploy", true),
            ("shop/*", "shopping/deploy", false),
            ("deploy", "deploy", true),
            ("deploy", "deploy-prod", false),
            ("*-prod", "deploy-prod", true),
            ("*-prod", "deploy-production", false),
            ("a*b*c", "abc", true),
            ("a*b*c", "ab", false),
            ("ab*ba", "aba", false),
            ("a?c", "a?c", true),
            ("a?c", "abc", true),
            ("a?c", "a/c", true),
            ("a?c", "ac", false),
        ] {
            assert_eq!(matches_text(pattern, name), expected, "{pattern} ~ {name}");
        }
    }

    #[test]
    fn a_single_star_stays_in_its_segment_and_a_double_star_crosses_slashes() {
        for (pattern, path, expected) in [
            ("services/api/**", "services/api/main.rs", true),
            ("services/api/**", "services/api/src/deep/main.rs", true),
            ("services/api/**", "services/api", false),
            ("services/api/**", "services/apix/main.rs", false),
            ("services/api/*", "services/api/main.rs", true),
            ("services/api/*", "services/api/src/main.rs", false),
            ("libs/common/*.rs", "libs/common/lib.rs", true),
            ("libs/common/*.rs", "libs/common/lib.rs.orig", false),
            ("libs/common/*.rs", "libs/common/sub/lib.rs", false),
            ("*.toml", "deny.toml", true),
            ("*.toml", ".cargo/config.toml", false),
            ("**/*.toml", ".cargo/config.toml", true),
            ("**/*.toml", "deny.toml", true),
            ("**/Dockerfile", "a/b/Dockerfile", true),
            ("**/Dockerfile", "a/b/Dockerfile.dev", false),
            ("a/**/b", "a/b", true),
            ("a/**/b", "a/x/y/b", true),
            ("a/**/b", "a/x/yb", false),
            ("a/**/b", "ab", false),
            ("**", "anything/at/all", true),
            ("src/?.rs", "src/a.rs", true),
            ("src/?.rs", "src/ab.rs", false),
            ("src/?.rs", "src//.rs", false),
            ("README.md", "README.md", true),
            ("README.md", "docs/README.md", false),
            ("Services/**", "services/x", false),
        ] {
            let glob = PathGlob::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
            assert_eq!(glob.matches(path), expected, "{pattern} ~ {path}");
        }
    }

    #[test]
    fn patterns_that_cannot_mean_what_they_say_are_refused() {
        assert_eq!(PathGlob::new(""), Err(GlobError::Empty));
        assert!(matches!(
            PathGlob::new("/services/**"),
            Err(GlobError::Absolute(_))
        ));
        assert!(matches!(
            PathGlob::new("services/a**"),
            Err(GlobError::DoubleStarInSegment(_))
        ));
        assert!(matches!(
            PathGlob::new("src/[ab].rs"),
            Err(GlobError::Unsupported(_, '['))
        ));
        assert!(matches!(
            PathGlob::new("src/{a,b}/**"),
            Err(GlobError::Unsupported(_, '{'))
        ));
    }

    #[test]
    fn long_paths_and_many_stars_match_in_bounded_time() {
        let glob = PathGlob::new("**/*a*a*a*a*a*a*a*a*b").unwrap();
        let path = format!("{}/{}", "d/".repeat(200), "a".repeat(2000));
        assert!(!glob.matches(&path));
        assert!(!matches_text("*a*a*a*a*a*a*b", &"a".repeat(5000)));
    }
}
