//! Limits on the text the pipeline stores in indexed columns, checked at the door (ingest answers
//! `400` naming the field) and again by every stage (an event over a limit is recorded as a
//! failure and skipped), so that no accepted event can stop a stage.
//!
//! Why these numbers: PostgreSQL refuses a B-tree index entry over about 2,700 bytes (a third of
//! an 8 KiB page), and the raw stores are unique on (source, id). With sources and ids of at
//! most 1,024 bytes each, that pair (and every other index: types, subjects, names) stays under
//! it with room for the entry's overhead, whatever the text is (index entries are compressed,
//! but random text does not compress). Service, environment and team names are what the fact
//! tables index together and what the dashboard and filters show: 255 bytes is more than any
//! tool allows (Kubernetes names stop at 253, GitHub repositories at 100). Limits are in bytes
//! of UTF-8, since that is what the index stores. docs/api.md ("Limits") lists them.

/// A CloudEvent `id`, a CDEvent `context.id`, a `subject.id` that is not a name, a change id.
pub const MAX_ID_BYTES: usize = 1024;
/// A CloudEvent `source`, a CDEvent `context.source` or `subject.source`.
pub const MAX_SOURCE_BYTES: usize = 1024;
/// A CloudEvent `type`, a CDEvent `context.type`.
pub const MAX_TYPE_BYTES: usize = 1024;
/// A CloudEvent `subject`.
pub const MAX_SUBJECT_BYTES: usize = 1024;
/// A service, environment or team name, and a commit SHA (part of a change id).
pub const MAX_NAME_BYTES: usize = 255;

/// PostgreSQL's largest B-tree index entry with 8 KiB pages, in bytes.
const POSTGRES_BTREE_MAX_ENTRY: usize = 2704;
/// Room left for an entry's header and the other (fixed-size) columns of an index.
const INDEX_ENTRY_OVERHEAD: usize = 64;
// The widest indexes: (source, id) of both raw stores, and (fact, service, change id).
const _: () =
    assert!(MAX_SOURCE_BYTES + MAX_ID_BYTES + INDEX_ENTRY_OVERHEAD < POSTGRES_BTREE_MAX_ENTRY);
const _: () =
    assert!(2 * MAX_NAME_BYTES + MAX_ID_BYTES + INDEX_ENTRY_OVERHEAD < POSTGRES_BTREE_MAX_ENTRY);

/// A text over its limit, or holding a character the database cannot store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unstorable {
    #[error("is {length} bytes long; at most {limit} bytes are accepted")]
    TooLong { length: usize, limit: usize },
    #[error("contains U+0000 (NUL), which cannot be stored")]
    Nul,
}

/// Checks one text against its limit (bytes of UTF-8) and for NUL.
pub fn check_text(text: &str, limit: usize) -> Result<(), Unstorable> {
    if text.len() > limit {
        return Err(Unstorable::TooLong {
            length: text.len(),
            limit,
        });
    }
    if text.contains('\0') {
        return Err(Unstorable::Nul);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_in_bytes_and_inclusive() {
        assert_eq!(check_text(&"a".repeat(255), MAX_NAME_BYTES), Ok(()));
        assert_eq!(
            check_text(&"a".repeat(256), MAX_NAME_BYTES),
            Err(Unstorable::TooLong {
                length: 256,
                limit: 255
            })
        );
        // 128 two-byte characters are 256 bytes.
        assert!(check_text(&"é".repeat(128), MAX_NAME_BYTES).is_err());
        assert_eq!(check_text("a\0b", MAX_NAME_BYTES), Err(Unstorable::Nul));
    }
}
