//! Metric calculators: the stage after the CDEvents store (... -> CDEvents store ->
//! **calculators** -> API). Each reads new CDEvents after its own cursor and maintains a fact
//! table in the same transaction as the cursor move, so it is incremental, crash-safe, and
//! `recompute` (replaying from the start) rebuilds the same rows.

pub mod calculator;
pub mod dora;
pub mod facts;
pub mod links;
pub mod observation;
