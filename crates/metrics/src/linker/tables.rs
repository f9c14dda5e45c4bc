//! The link tables read back (`crate::linker`): linked from scratch (what they must hold), as
//! the keys' rows, and as the facts of a scope for drill-down.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use dora_store::{AllLinks, Store, StoreError};

use crate::dora::facts::{Deployment, DoraConfig, DoraFacts};
use crate::dora::key_rows::{
    DeploymentKeyRow, IncidentKeyRow, RecoveryCell, ReworkKind, ShippedKeyRow,
};
use crate::dora::linking::Linked;
use crate::folding::deployment_fact;

/// Links every stored fact from scratch, in memory: what the link tables must hold (for the
/// differential tests and `dora-events links check`).
pub async fn links_from_scratch(
    store: &Store,
    config: &DoraConfig,
) -> Result<AllLinks, StoreError> {
    let rows = store.load_facts(&dora_store::FactFilter::default()).await?;
    let mut facts = crate::folding::fold(rows, &BTreeMap::new());
    for d in &mut facts.deployments {
        d.team = None;
    }
    Ok(Linked::new(&facts, config).all_rows())
}

/// The link tables' key rows as the keys' columns read them.
pub fn key_rows_from(
    records: dora_store::KeyRowsRecord,
) -> (
    Vec<DeploymentKeyRow>,
    Vec<ShippedKeyRow>,
    Vec<IncidentKeyRow>,
) {
    use crate::dora::link_rows::flags;
    let mut detections: HashMap<i64, Vec<DateTime<Utc>>> = HashMap::new();
    for (id, at) in records.detections {
        detections.entry(id).or_default().push(at);
    }
    let deployments = records
        .deployments
        .into_iter()
        .map(|d| {
            let has = |bit: i64| d.flags & bit != 0;
            let rework = if has(flags::REWORK_ROLLBACK) {
                Some(ReworkKind::Rollback)
            } else if has(flags::REWORK_DURING_INCIDENT) {
                Some(ReworkKind::DuringIncident)
            } else {
                None
            };
            let recovery = if has(flags::RECOVERED) {
                Some(RecoveryCell::Recovered {
                    seconds: d.recovery_seconds.unwrap_or_default(),
                })
            } else if has(flags::RECOVERY_OPEN) {
                Some(RecoveryCell::Open)
            } else if has(flags::RECOVERY_INVALID) {
                Some(RecoveryCell::InvalidTimes)
            } else {
                None
            };
            let mut times = detections.remove(&d.id).unwrap_or_default();
            times.sort_unstable();
            DeploymentKeyRow {
                id: d.id,
                at: d.at,
                rollback: has(flags::ROLLBACK),
                failed_rollout: has(flags::FAILED_ROLLOUT),
                reason_incident: has(flags::REASON_INCIDENT),
                reason_rolled_back: has(flags::REASON_ROLLED_BACK),
                rework,
                recovery,
                detections: times,
            }
        })
        .collect();
    let shipped = records
        .shipped
        .into_iter()
        .map(|c| ShippedKeyRow {
            change_id: c.change_id,
            at: c.at,
            deployment_id: c.deployment_id,
            lead: c.lead,
            skewed_commits: u32::try_from(c.skewed).unwrap_or_default(),
        })
        .collect();
    let incidents = records
        .incidents
        .into_iter()
        .map(|i| IncidentKeyRow {
            id: i.id,
            detected_at: i.detected_at,
            unattributed: i.unattributed,
        })
        .collect();
    (deployments, shipped, incidents)
}

/// The facts a filtered scope may need, as the linker folded them: the deployments of its
/// services and environments (team from `teams` first, as everywhere), the changes they contain
/// and the incidents of its services (or naming none). [`crate::scope::narrow`] then keeps
/// exactly what the scope reads; a change no deployment of the scope contains counts nowhere
/// in it, so leaving it out changes nothing.
///
/// Also returns each deployment's CDEvent id.
pub async fn scope_facts(
    store: &Store,
    teams: &BTreeMap<String, String>,
    scope: &crate::scope::Scope,
) -> Result<(DoraFacts, BTreeMap<i64, String>), StoreError> {
    let records = store
        .scope_records(scope.services.as_deref(), scope.environments.as_deref())
        .await?;
    let corrupt = |what: &str, e: serde_json::Error| StoreError::Corrupt {
        seq: 0,
        reason: format!("a stored {what} link cannot be read: {e}"),
    };
    let deployments = records
        .deployments
        .iter()
        .map(|record| Deployment {
            team: teams.get(&record.service).cloned().or(record.team.clone()),
            ..deployment_fact(record)
        })
        .collect();
    let mut changes = records
        .change_details
        .iter()
        .map(|text| {
            serde_json::from_str::<crate::dora::link_rows::ChangeDetail>(text)
                .map(|detail| detail.change)
                .map_err(|e| corrupt("change", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // In id order, as folding gives them (ties in the drill-down lists follow it).
    changes.sort_by(|a, b| a.id.cmp(&b.id));
    let incidents = records
        .incident_details
        .iter()
        .map(|text| {
            serde_json::from_str::<crate::dora::link_rows::IncidentDetail>(text)
                .map(|detail| detail.incident)
                .map_err(|e| corrupt("incident", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let cdevent_ids = records
        .deployments
        .into_iter()
        .map(|d| (d.id, d.cdevent_id))
        .collect();
    Ok((
        DoraFacts {
            deployments,
            changes,
            incidents,
        },
        cdevent_ids,
    ))
}
