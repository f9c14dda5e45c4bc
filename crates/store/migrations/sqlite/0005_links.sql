-- Links kept by the calculator (crates/metrics/src/links.rs): what each deployment, change and
-- incident is linked to, updated for what new facts change, in the same transaction as the
-- `calculator:links` cursor. `version` is that cursor's position when a row was last written.

-- One row per change after folding (a push folded into its pull request has none).
CREATE TABLE change_links (
    change_id        TEXT    PRIMARY KEY,
    -- The first production deployment containing it, and its time.
    first_deployment INTEGER,
    first_at         INTEGER,
    -- Lead time in seconds, or -1 (clock skew) / -2 (no timestamp); NULL when not shipped.
    lead             INTEGER,
    skewed           INTEGER NOT NULL DEFAULT 0,
    detail           TEXT    NOT NULL,
    version          INTEGER NOT NULL
);
-- Covering what the keys read, so loading them never touches `detail`.
CREATE INDEX change_links_by_first ON change_links (first_at, first_deployment, lead, skewed)
    WHERE first_at IS NOT NULL;

-- One row per incident (detected) with its attribution.
CREATE TABLE incident_links (
    incident_id        TEXT    PRIMARY KEY,
    detected_at        INTEGER NOT NULL,
    resolved_at        INTEGER,
    service            TEXT,
    environment        TEXT,
    artifact_id        TEXT,
    -- The deployment it is attributed to, and that deployment's service and environment.
    deployment_id      INTEGER,
    target_service     TEXT,
    target_environment TEXT,
    unattributed       INTEGER NOT NULL,
    detail             TEXT    NOT NULL,
    version            INTEGER NOT NULL
);
CREATE INDEX incident_links_by_service ON incident_links (service, detected_at);
CREATE INDEX incident_links_by_artifact ON incident_links (artifact_id) WHERE artifact_id IS NOT NULL;
CREATE INDEX incident_links_by_target ON incident_links (target_service, target_environment, detected_at)
    WHERE deployment_id IS NOT NULL;
CREATE INDEX incident_links_by_deployment ON incident_links (deployment_id) WHERE deployment_id IS NOT NULL;
CREATE INDEX incident_links_by_detection ON incident_links (detected_at);

-- One row per deployment: rollback, intervention, recovery and rework.
CREATE TABLE deployment_links (
    deployment_id    INTEGER PRIMARY KEY REFERENCES deployments (id),
    flags            INTEGER NOT NULL,
    recovery_seconds INTEGER,
    detail           TEXT    NOT NULL,
    version          INTEGER NOT NULL
);

-- What joins facts: a change's SHAs ('s:<lowercase sha>'), artifacts ('a:<id>') and the
-- deployments it names ('r:<CDEvent id>'); an incident's deployment ('i:<CDEvent id>').
CREATE TABLE link_keys (
    key     TEXT NOT NULL,
    fact_id TEXT NOT NULL,
    PRIMARY KEY (key, fact_id)
);
CREATE INDEX link_keys_by_fact ON link_keys (fact_id);

-- UTC days (days since 1970-01-01) whose key rows a links pass changed, for readers that keep
-- the keys' columns in memory.
CREATE TABLE link_dirty_days (
    version INTEGER NOT NULL,
    day     INTEGER NOT NULL
);
CREATE INDEX link_dirty_days_by_version ON link_dirty_days (version);

-- The configuration the links were made under (production environments, horizon).
CREATE TABLE link_config (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT    NOT NULL,
    -- Dirty days are kept for link positions after this one (older ones are pruned).
    dirty_days_from INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX observations_by_fact_id ON observations (fact, fact_id);
CREATE INDEX deployments_by_cdevent_id ON deployments (cdevent_id);
CREATE INDEX deployments_by_artifact ON deployments (artifact_id) WHERE artifact_id IS NOT NULL;
CREATE INDEX deployments_by_revision ON deployments (lower(revision)) WHERE revision IS NOT NULL;

-- Which deployments contain which changes (`shipped`: the first of its service and
-- environment to contain it), for drill-down and filtered scopes.
CREATE TABLE change_deployments (
    change_id     TEXT    NOT NULL,
    deployment_id INTEGER NOT NULL,
    service       TEXT    NOT NULL,
    environment   TEXT    NOT NULL,
    shipped       INTEGER NOT NULL,
    PRIMARY KEY (change_id, deployment_id)
);
CREATE INDEX change_deployments_by_deployment ON change_deployments (deployment_id);
CREATE INDEX change_deployments_by_target ON change_deployments (service, environment);
-- The latest deployment of a service before an incident, whatever its environment.
CREATE INDEX deployments_by_service_time ON deployments (service, deployed_at, id);
