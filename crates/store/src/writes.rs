//! The SQL text both backends' writes share: the columns each table is written with and what a
//! conflict with a stored row does. How rows travel differs (multi-row `VALUES` on SQLite,
//! `UNNEST` of arrays on PostgreSQL), so the statements around these pieces stay in the
//! backends.

/// `cloudevents_raw`, keyed by (source, id): a redelivered event is stored once.
pub(crate) const RAW_EVENT_COLUMNS: &str =
    "cloudevents_raw (event_id, event_source, event_type, event_time, received_at, origin, content)";
pub(crate) const RAW_EVENT_CONFLICT: &str = "ON CONFLICT (event_source, event_id) DO NOTHING";

/// `cdevents_raw`, keyed by (source, id).
pub(crate) const CDEVENT_COLUMNS: &str = "cdevents_raw (cd_id, cd_source, cd_type, cd_subject_id, \
     cd_subject_source, cd_timestamp, content, raw_seq, transformer, stored_at)";
pub(crate) const CDEVENT_CONFLICT: &str = "ON CONFLICT (cd_source, cd_id) DO NOTHING";

/// `transform_failures`: a transformer's last failure on a raw event replaces the one before.
pub(crate) const TRANSFORM_FAILURE_COLUMNS: &str =
    "transform_failures (raw_seq, transformer, reason, failed_at)";
pub(crate) const TRANSFORM_FAILURE_CONFLICT: &str = "ON CONFLICT (raw_seq, transformer) \
     DO UPDATE SET reason = excluded.reason, failed_at = excluded.failed_at";

/// `function_jobs`: a call is enqueued once.
pub(crate) const FUNCTION_JOB_COLUMNS: &str =
    "function_jobs (raw_seq, function, created_at, next_attempt_at)";
pub(crate) const FUNCTION_JOB_CONFLICT: &str = "ON CONFLICT (raw_seq, function) DO NOTHING";

/// `fact_failures`: a calculator's last failure on a CDEvent replaces the one before.
pub(crate) const FACT_FAILURE_COLUMNS: &str =
    "fact_failures (cdevent_seq, calculator, reason, failed_at)";
pub(crate) const FACT_FAILURE_CONFLICT: &str = "ON CONFLICT (cdevent_seq, calculator) \
     DO UPDATE SET reason = excluded.reason, failed_at = excluded.failed_at";

/// `deployments` and `observations`: one row per CDEvent (and ordinal), written once.
pub(crate) const DEPLOYMENT_WRITE_COLUMNS: &str = "deployments (cdevent_seq, cdevent_id, kind, \
     service, environment, artifact_id, deployed_at, team, failed, revision)";
pub(crate) const DEPLOYMENT_CONFLICT: &str = "ON CONFLICT (cdevent_seq) DO NOTHING";
pub(crate) const OBSERVATION_WRITE_COLUMNS: &str = "observations (cdevent_seq, ordinal, fact, \
     fact_id, service, environment, observed_at, body)";
pub(crate) const OBSERVATION_CONFLICT: &str = "ON CONFLICT (cdevent_seq, ordinal) DO NOTHING";

/// The link tables ([`crate::links`]): a link row is replaced by the pass that writes it again.
pub(crate) const CONTAINMENT_COLUMNS: &str =
    "change_deployments (change_id, deployment_id, service, environment, shipped)";
pub(crate) const CHANGE_LINK_WRITE_COLUMNS: &str =
    "change_links (change_id, first_deployment, first_at, lead, skewed, detail, version)";
pub(crate) const CHANGE_LINK_CONFLICT: &str = "ON CONFLICT (change_id) DO UPDATE SET \
     first_deployment = excluded.first_deployment, first_at = excluded.first_at, \
     lead = excluded.lead, skewed = excluded.skewed, detail = excluded.detail, \
     version = excluded.version";
pub(crate) const INCIDENT_LINK_WRITE_COLUMNS: &str = "incident_links (incident_id, detected_at, \
     resolved_at, service, environment, artifact_id, deployment_id, target_service, \
     target_environment, unattributed, detail, version)";
pub(crate) const INCIDENT_LINK_CONFLICT: &str = "ON CONFLICT (incident_id) DO UPDATE SET \
     detected_at = excluded.detected_at, resolved_at = excluded.resolved_at, \
     service = excluded.service, environment = excluded.environment, \
     artifact_id = excluded.artifact_id, deployment_id = excluded.deployment_id, \
     target_service = excluded.target_service, target_environment = excluded.target_environment, \
     unattributed = excluded.unattributed, detail = excluded.detail, version = excluded.version";
pub(crate) const DEPLOYMENT_LINK_WRITE_COLUMNS: &str =
    "deployment_links (deployment_id, flags, recovery_seconds, detail, version)";
pub(crate) const DEPLOYMENT_LINK_CONFLICT: &str = "ON CONFLICT (deployment_id) DO UPDATE SET \
     flags = excluded.flags, recovery_seconds = excluded.recovery_seconds, \
     detail = excluded.detail, version = excluded.version";
pub(crate) const LINK_KEY_COLUMNS: &str = "link_keys (key, fact_id)";
pub(crate) const LINK_KEY_CONFLICT: &str = "ON CONFLICT (key, fact_id) DO NOTHING";
pub(crate) const DIRTY_DAY_COLUMNS: &str = "link_dirty_days (version, day)";
/// Forgets the dirty days of passes up to `$1`...
pub(crate) const PRUNE_DIRTY_DAYS: &str = "DELETE FROM link_dirty_days WHERE version <= $1";
/// ... and records that those after `$1` are kept.
pub(crate) const DIRTY_DAYS_KEPT_FROM: &str =
    "UPDATE link_config SET dirty_days_from = $1 WHERE id = 1";

/// `link_config` holds one row: the fingerprint the links were made under.
pub(crate) const LINK_FINGERPRINT_UPSERT: &str = "INSERT INTO link_config (id, fingerprint) \
     VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET fingerprint = excluded.fingerprint, \
     dirty_days_from = 0";

/// The tables [`crate::Store::reset_links`] empties (and the links cursor).
pub(crate) const LINK_TABLES: [&str; 6] = [
    "deployment_links",
    "change_links",
    "change_deployments",
    "incident_links",
    "link_keys",
    "link_dirty_days",
];

/// The tables [`crate::Store::reset_derived`] empties: all but `cloudevents_raw`, those that
/// refer to others first.
pub(crate) fn derived_tables() -> Vec<&'static str> {
    let before_links = ["function_jobs"];
    let after_links = [
        "link_config",
        "observations",
        "deployments",
        "fact_failures",
        "transform_failures",
        "cdevents_raw",
        "cursors",
    ];
    [&before_links[..], &LINK_TABLES, &after_links].concat()
}
