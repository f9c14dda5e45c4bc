//! What can go wrong in the store, and whose fault a failed write is (the event's or the
//! database's): the errors every backend returns, read by the stages to decide between retrying
//! and recording a failure.

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one this build understands.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    BadUrl(String),
    /// The database could not be reached or refused the operation.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Another worker moved the cursor first; the batch was rolled back and can be retried.
    #[error("cursor {name} moved concurrently (expected position {expected})")]
    CursorMoved { name: String, expected: i64 },
    /// Stored content could not be decoded (corruption or a bug, never client input).
    #[error("stored row {seq} is unreadable: {reason}")]
    Corrupt { seq: i64, reason: String },
}

impl StoreError {
    /// True when the database is away or busy (worth a `503` and a retry), false for faults that
    /// a retry will not cure (undecodable rows, bad SQL, configuration).
    pub fn is_unavailable(&self) -> bool {
        let Self::Database(error) = self else {
            return false;
        };
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                // SQLite: busy and locked with their extended codes. PostgreSQL: classes 08
                // (connection), 53 (resources), 57 (operator intervention), serialization failure
                // and deadlock, read-only transaction (a demoted primary after failover), and 55000,
                // which is how a database that does not accept connections refuses one.
                let code = code.as_ref();
                matches!(
                    code,
                    "5" | "6"
                        | "261"
                        | "262"
                        | "517"
                        | "773"
                        | "40001"
                        | "40P01"
                        | "25006"
                        | "55000"
                ) || ["08", "53", "57"]
                    .iter()
                    .any(|class| code.starts_with(class))
            }),
            _ => false,
        }
    }
}

/// Whose fault a failed write is, which decides what a stage does about it.
///
/// A stage that cannot store what one event became must neither stop (retrying the same write
/// for ever holds back every later event) nor skip events because the database was away. The
/// database's own error code says which: see [`postgres_blame`] and [`sqlite_blame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The values written: something in one event the database refuses (a text too long for an
    /// index, a number out of range, a character it cannot store, a constraint). The same
    /// write fails the same way every time: the stage records the event as failed and moves on.
    Event,
    /// The database itself (connection lost, shutting down, busy or locked, a serialization
    /// failure or deadlock, out of memory, disk or connections), or a cause not known to be the
    /// event's: the stage retries the same work later and skips nothing.
    Database,
}

/// [`Blame`] by PostgreSQL SQLSTATE. The event's: class 22 (data exception: a value out of
/// range, a character the encoding cannot hold, an invalid JSON text), 23 (integrity constraint
/// violation) and 54 (program limit exceeded: an index row over the B-tree limit, a statement
/// too complex). Everything else is the database's: 08 (connection), 40 (transaction rollback:
/// serialization failure, deadlock), 53 (insufficient resources), 55 (object not in a
/// prerequisite state), 57 (operator intervention: shutdown, cancel), 58 (system error), XX
/// (internal) and codes not listed, which are retried rather than skipped.
pub fn postgres_blame(sqlstate: &str) -> Blame {
    match sqlstate.get(..2) {
        Some("22" | "23" | "54") => Blame::Event,
        _ => Blame::Database,
    }
}

/// SQLite primary result codes that are the event's fault ([`sqlite_blame`]).
const SQLITE_TOOBIG: i32 = 18;
const SQLITE_CONSTRAINT: i32 = 19;
const SQLITE_MISMATCH: i32 = 20;

/// [`Blame`] by SQLite result code (primary or extended: the low byte is the primary code).
/// The event's: `SQLITE_TOOBIG` (a value over the length limit), `SQLITE_CONSTRAINT` (any
/// constraint, including a trigger's `RAISE(ABORT)`) and `SQLITE_MISMATCH`. Everything else is
/// the database's: `SQLITE_BUSY`, `SQLITE_LOCKED`, `SQLITE_NOMEM`, `SQLITE_READONLY`,
/// `SQLITE_IOERR`, `SQLITE_FULL`, `SQLITE_CANTOPEN`, `SQLITE_CORRUPT`, ...
pub fn sqlite_blame(result_code: i32) -> Blame {
    match result_code & 0xff {
        SQLITE_TOOBIG | SQLITE_CONSTRAINT | SQLITE_MISMATCH => Blame::Event,
        _ => Blame::Database,
    }
}

impl StoreError {
    /// Whose fault this error is ([`Blame`]), by the backend's own error code.
    pub fn blame(&self) -> Blame {
        let Self::Database(error) = self else {
            // A moved cursor is retried; an unreadable row is not a write's fault.
            return Blame::Database;
        };
        match error {
            // A value the driver could not send (e.g. over the protocol's size limit).
            sqlx::Error::Encode(_) => Blame::Event,
            sqlx::Error::Database(db) => {
                if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                    postgres_blame(pg.code())
                } else if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                    db.code()
                        .and_then(|code| code.parse::<i32>().ok())
                        .map_or(Blame::Database, sqlite_blame)
                } else {
                    Blame::Database
                }
            }
            _ => Blame::Database,
        }
    }
}

/// Longest failure reason stored, in characters.
const MAX_REASON_CHARS: usize = 2000;

/// A failure reason as stored: without NUL (PostgreSQL text cannot hold it; an error message
/// may quote the input) and at most [`MAX_REASON_CHARS`] characters.
pub(crate) fn storable_reason(reason: &str) -> String {
    let mut text: String = reason
        .chars()
        .take(MAX_REASON_CHARS)
        .map(|c| {
            if c == '\0' {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect();
    if reason.chars().nth(MAX_REASON_CHARS).is_some() {
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_data_constraint_and_limit_errors_are_the_events() {
        for sqlstate in [
            "22001", // string data right truncation
            "22003", // numeric value out of range ("value overflows numeric format")
            "22021", // character not in repertoire (NUL)
            "22P02", // invalid text representation
            "22P05", // untranslatable character (\u0000 in JSONB)
            "23505", // unique violation
            "23514", // check violation
            "54000", // program limit exceeded (index row size exceeds B-tree maximum)
            "54001", // statement too complex
        ] {
            assert_eq!(postgres_blame(sqlstate), Blame::Event, "{sqlstate}");
        }
    }

    #[test]
    fn postgres_connection_rollback_resource_and_shutdown_errors_are_the_databases() {
        for sqlstate in [
            "08000", "08006", // connection exception, connection failure
            "40001", "40P01", // serialization failure, deadlock
            "53100", "53200", "53300", // disk full, out of memory, too many connections
            "55P03", // lock not available
            "57014", "57P01", "57P03", // query canceled, admin shutdown, cannot connect now
            "58030", // I/O error
            "25006", // read-only transaction (a demoted primary)
            "42P01", // undefined table: a bug or a missing migration, never skipped over
            "XX000", "", "2",
        ] {
            assert_eq!(postgres_blame(sqlstate), Blame::Database, "{sqlstate:?}");
        }
    }

    #[test]
    fn sqlite_constraint_toobig_and_mismatch_are_the_events() {
        // Primary codes and extended ones (unique 2067, check 275, trigger 1811, not null 1299).
        for code in [18, 19, 20, 2067, 275, 1811, 1299] {
            assert_eq!(sqlite_blame(code), Blame::Event, "{code}");
        }
    }

    #[test]
    fn sqlite_busy_locked_io_and_full_are_the_databases() {
        // BUSY, LOCKED, NOMEM, READONLY, INTERRUPT, IOERR, CORRUPT, FULL, CANTOPEN, ERROR,
        // BUSY_SNAPSHOT (517), LOCKED_SHAREDCACHE (262), IOERR_WRITE (778).
        for code in [5, 6, 7, 8, 9, 10, 11, 13, 14, 1, 517, 262, 778] {
            assert_eq!(sqlite_blame(code), Blame::Database, "{code}");
        }
    }

    #[test]
    fn errors_without_a_database_code_are_retried() {
        assert_eq!(
            StoreError::Database(sqlx::Error::PoolTimedOut).blame(),
            Blame::Database
        );
        assert_eq!(
            StoreError::CursorMoved {
                name: "router".into(),
                expected: 1
            }
            .blame(),
            Blame::Database
        );
    }

    #[test]
    fn stored_reasons_lose_nul_and_length() {
        assert_eq!(storable_reason("a\0b"), "a\u{fffd}b");
        let long = "x".repeat(MAX_REASON_CHARS + 10);
        assert_eq!(storable_reason(&long).chars().count(), MAX_REASON_CHARS + 1);
        assert_eq!(storable_reason("short"), "short");
    }
}
