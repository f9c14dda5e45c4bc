//! Test helpers shared by the crates' tests and the end-to-end suite (dev-only).
//!
//! Every test that touches a store runs on both backends: SQLite always, PostgreSQL when
//! `DATABASE_URL` points at one. Without it the PostgreSQL variant is skipped, except in CI
//! (`CI` set), where that is a failure: CI must prove both.
//!
//! ```no_run
//! # async fn demo() {
//! use dora_testkit::Backend;
//! for backend in Backend::all() {
//!     let db = backend.fresh_database().await;
//!     println!("{}", db.url);
//! }
//! # }
//! ```

use std::sync::Arc;

pub mod history;

/// Which store a test runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    /// The admin URL (`DATABASE_URL`); each test creates its own database through it.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL from `DATABASE_URL`, or `None` (skip) outside CI.
    ///
    /// # Panics
    /// In CI (`CI` set) when `DATABASE_URL` is missing: skipping PostgreSQL there is a failure.
    #[allow(clippy::panic)]
    pub fn postgres() -> Option<Self> {
        match std::env::var("DATABASE_URL") {
            Ok(url) if url.starts_with("postgres") => Some(Self::Postgres(url)),
            _ if std::env::var_os("CI").is_some() => {
                panic!("CI must run the PostgreSQL tests: set DATABASE_URL=postgres://...")
            }
            _ => {
                eprintln!("DATABASE_URL is not set: skipping the PostgreSQL variant");
                None
            }
        }
    }

    /// SQLite, and PostgreSQL when available.
    pub fn all() -> Vec<Self> {
        std::iter::once(Self::Sqlite)
            .chain(Self::postgres())
            .collect()
    }

    /// A new, empty database for one test.
    ///
    /// # Panics
    /// When the temporary directory or the PostgreSQL database cannot be created.
    #[allow(clippy::expect_used)]
    pub async fn fresh_database(&self) -> TestDb {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let url = match self {
            Self::Sqlite => format!("sqlite://{}", dir.path().join("dora-events.db").display()),
            Self::Postgres(admin_url) => {
                use sqlx::Connection;
                let name = format!("dora_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = sqlx::PgConnection::connect(admin_url)
                    .await
                    .expect("PostgreSQL at DATABASE_URL is reachable");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .expect("test database created");
                let base = admin_url.split('?').next().unwrap_or(admin_url);
                let (server, _) = base
                    .rsplit_once('/')
                    .expect("DATABASE_URL names a database");
                let url = format!("{server}/{name}");
                let dropped = DroppedWithTest {
                    admin_url: admin_url.clone(),
                    name,
                };
                return TestDb {
                    url,
                    _dir: dir,
                    _postgres: Some(Arc::new(dropped)),
                };
            }
        };
        TestDb {
            url,
            _dir: dir,
            _postgres: None,
        }
    }
}

/// One test's database (and a temporary directory that lives as long as it).
#[derive(Debug, Clone)]
pub struct TestDb {
    pub url: String,
    /// Removed (with a SQLite file in it) when the last clone is dropped.
    _dir: Arc<tempfile::TempDir>,
    /// A PostgreSQL database, dropped with the last clone.
    _postgres: Option<Arc<DroppedWithTest>>,
}

/// A test's PostgreSQL database, dropped (`WITH (FORCE)`: the test's pools may still be open)
/// when the test is done with it, so that runs of the suite leave no databases behind.
#[derive(Debug)]
struct DroppedWithTest {
    admin_url: String,
    name: String,
}

impl Drop for DroppedWithTest {
    fn drop(&mut self) {
        use sqlx::Connection;
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // A thread of its own: the drop may happen inside the test's runtime, which cannot
        // block on another. A failure leaves the database for `.ci/run` to drop.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::query(&sql).execute(&mut admin).await.ok()
            })
        });
        if !matches!(dropped.join(), Ok(Some(_))) {
            eprintln!("test database {} was not dropped", self.name);
        }
    }
}
