-- Facts for the five DORA keys. Deployments gain what the keys need; everything else a CDEvent
-- says about changes, artifacts and incidents is kept as observations, folded into facts when
-- the keys are computed (so a late or out-of-order event simply adds an observation).

ALTER TABLE deployments ADD COLUMN team TEXT;
ALTER TABLE deployments ADD COLUMN failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deployments ADD COLUMN revision TEXT;

CREATE TABLE observations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    cdevent_seq INTEGER NOT NULL REFERENCES cdevents_raw (seq),
    ordinal     INTEGER NOT NULL,
    -- 'change', 'artifact' or 'incident'
    fact        TEXT    NOT NULL,
    fact_id     TEXT    NOT NULL,
    service     TEXT,
    environment TEXT,
    observed_at INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    UNIQUE (cdevent_seq, ordinal)
);
CREATE INDEX observations_by_fact ON observations (fact, service, fact_id);
