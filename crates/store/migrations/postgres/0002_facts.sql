-- Facts for the five DORA keys. Deployments gain what the keys need; everything else a CDEvent
-- says about changes, artifacts and incidents is kept as observations, folded into facts when
-- the keys are computed (so a late or out-of-order event simply adds an observation).

ALTER TABLE deployments ADD COLUMN team TEXT;
ALTER TABLE deployments ADD COLUMN failed BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE deployments ADD COLUMN revision TEXT;

CREATE TABLE observations (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cdevent_seq BIGINT      NOT NULL REFERENCES cdevents_raw (seq),
    ordinal     INTEGER     NOT NULL,
    -- 'change', 'artifact' or 'incident'
    fact        TEXT        NOT NULL,
    fact_id     TEXT        NOT NULL,
    service     TEXT,
    environment TEXT,
    observed_at TIMESTAMPTZ NOT NULL,
    body        JSONB       NOT NULL,
    UNIQUE (cdevent_seq, ordinal)
);
CREATE INDEX observations_by_fact ON observations (fact, service, fact_id);
