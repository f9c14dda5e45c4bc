//! The DORA metrics: the stages after the CDEvents store (... -> CDEvents store -> **observer ->
//! linker -> keys** -> API). Each stage that writes reads what is new after its own cursor and
//! writes its rows in the same transaction as the cursor move, so it is incremental, crash-safe,
//! and `recompute` (replaying from the start) rebuilds the same rows.
//!
//! - [`observer`]: CDEvents in; deployment rows and [`observation`]s out.
//! - [`folding`]: stored rows (deployments, observations) folded into facts
//!   ([`dora::facts`]); [`scope`] cuts the facts one request is about out of them.
//! - [`linker`]: links new facts incrementally into the link tables, by the rules of
//!   [`dora::linking`].
//! - [`dora`]: the pure computation: linking rules, the keys' columns, the five keys.

pub mod dora;
pub mod folding;
pub mod linker;
pub mod observation;
pub mod observer;
pub mod scope;

use dora_store::StoreError;

/// Runs a stage's `pass` until it reads nothing; returns how much it read in all.
pub(crate) async fn until_idle<F, Pass>(mut pass: F) -> Result<usize, StoreError>
where
    F: FnMut() -> Pass,
    Pass: std::future::Future<Output = Result<usize, StoreError>>,
{
    let mut total = 0;
    loop {
        match pass().await? {
            0 => return Ok(total),
            n => total += n,
        }
    }
}
