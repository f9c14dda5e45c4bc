//! The domain model of dora-events, shared by every stage of the pipeline
//! (ingest -> raw store -> router -> transformers -> CDEvents store -> calculators -> API).
//!
//! Nothing here does I/O. Input is parsed into typed values once, at the edge:
//! [`cloudevent::CloudEvent`] for what ingest receives, [`cdevent::CdEvent`] for what transformers
//! emit and calculators read.
//!
//! ```
//! use dora_model::cloudevent::CloudEvent;
//! let event = CloudEvent::from_json_bytes(br#"{"specversion":"1.0","id":"1","source":"/s","type":"t"}"#).unwrap();
//! assert_eq!(event.id, "1");
//! ```

pub mod cdevent;
pub mod cloudevent;
pub mod dora;
pub mod ids;
pub mod limits;
pub mod time;

pub use cloudevent::json_kind;
