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

/// The range of a JSON number's magnitude (besides 0), `1e-100` up to below `1e101`: JSONB keeps
/// numbers as `NUMERIC` and gives them back written out in full, and near `f64`'s range the
/// written-out digits no longer read back as a JSON number.
pub const NUMBER_MAGNITUDES: std::ops::Range<f64> = 1e-100..1e101;
/// The most digits an event's numbers with large exponents (over 20 either way) may take written
/// out, summed over the event: `1e99` is 4 bytes sent and about 100 stored, so an event of them
/// would be stored (and read by every stage) many times larger than the limit it was sent under.
pub const MAX_WRITTEN_OUT_DIGITS: usize = 64 * 1024;
/// Exponents up to this are written out about as long as they are sent, and not counted.
const UNCOUNTED_EXPONENT: i32 = 20;

/// The running check of an event's JSON numbers against [`NUMBER_MAGNITUDES`] and
/// [`MAX_WRITTEN_OUT_DIGITS`].
#[derive(Debug, Default)]
pub struct NumberCheck {
    written_out: usize,
}

impl NumberCheck {
    /// Checks one number; the message of a refusal.
    pub fn check(&mut self, number: &serde_json::Number) -> Result<(), String> {
        let Some(value) = number.as_f64().filter(|_| number.is_f64()) else {
            return Ok(()); // integers are stored as written
        };
        if value == 0.0 || !value.is_finite() {
            return Ok(());
        }
        if !NUMBER_MAGNITUDES.contains(&value.abs()) {
            return Err(
                "is a number of magnitude 1e101 or more, or under 1e-100, which the database \
                 would give back written out in full; send it as a string"
                    .to_owned(),
            );
        }
        // The decimal exponent (about: only counted), within ±101 here.
        let exponent = value.abs().log10().floor() as i32;
        if exponent.abs() > UNCOUNTED_EXPONENT {
            self.written_out += exponent.unsigned_abs() as usize + 2;
            if self.written_out > MAX_WRITTEN_OUT_DIGITS {
                return Err(format!(
                    "the event's numbers with large exponents would take more than \
                     {MAX_WRITTEN_OUT_DIGITS} digits written out, as the database stores them; \
                     send them as strings"
                ));
            }
        }
        Ok(())
    }
}

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

    fn number(text: &str) -> serde_json::Number {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn numbers_beyond_the_exponent_are_refused_and_large_exponents_counted() {
        let mut check = NumberCheck::default();
        for fine in [
            "0",
            "-0.0",
            "18446744073709551615",
            "1.5",
            "1e100",
            "-1e-100",
            "2.5e20",
        ] {
            assert_eq!(check.check(&number(fine)), Ok(()), "{fine}");
        }
        // 1e100 and 1e-100 counted: 102 digits each.
        assert_eq!(check.written_out, 204);
        for refused in ["1e101", "-1e-101", "1.7976931348623157e308", "5e-324"] {
            let message = NumberCheck::default().check(&number(refused)).unwrap_err();
            assert!(message.contains("1e101"), "{refused}: {message}");
        }
        let mut many = NumberCheck::default();
        let refused_at = (1..)
            .find(|_| many.check(&number("1e99")).is_err())
            .unwrap();
        assert_eq!(refused_at, MAX_WRITTEN_OUT_DIGITS / 101 + 1);
    }
}
