-- The book's tables (cloudevents_raw, cdevents_raw, deployments), plus what makes the pipeline
-- incremental and exactly-once in effect: sequence numbers, unique keys and cursors.
-- Times are INTEGER microseconds since the Unix epoch, UTC.

CREATE TABLE cloudevents_raw (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT    NOT NULL,
    event_source TEXT    NOT NULL,
    event_type   TEXT    NOT NULL,
    event_time   INTEGER,
    received_at  INTEGER NOT NULL,
    -- 'events' (POST /events, /) or 'cdevents' (POST /cdevents: always passed through as a CDEvent)
    origin       TEXT    NOT NULL DEFAULT 'events',
    content      TEXT    NOT NULL,
    UNIQUE (event_source, event_id)
);

CREATE TABLE cdevents_raw (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    cd_id             TEXT    NOT NULL,
    cd_source         TEXT    NOT NULL,
    cd_type           TEXT    NOT NULL,
    cd_subject_id     TEXT    NOT NULL,
    cd_subject_source TEXT,
    cd_timestamp      INTEGER NOT NULL,
    content           TEXT    NOT NULL,
    raw_seq           INTEGER REFERENCES cloudevents_raw (seq),
    transformer       TEXT    NOT NULL,
    stored_at         INTEGER NOT NULL,
    UNIQUE (cd_source, cd_id)
);
CREATE INDEX cdevents_raw_by_raw_seq ON cdevents_raw (raw_seq);

-- Last processed sequence number per consumer (router over cloudevents_raw, calculators over cdevents_raw).
CREATE TABLE cursors (
    name       TEXT    PRIMARY KEY,
    position   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- One row per (raw event, transformer) that could not be transformed, with the reason.
CREATE TABLE transform_failures (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    raw_seq     INTEGER NOT NULL REFERENCES cloudevents_raw (seq),
    transformer TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    failed_at   INTEGER NOT NULL,
    UNIQUE (raw_seq, transformer)
);

-- One row per rollout of a service into an environment.
CREATE TABLE deployments (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    cdevent_seq  INTEGER NOT NULL UNIQUE REFERENCES cdevents_raw (seq),
    cdevent_id   TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    service      TEXT    NOT NULL,
    environment  TEXT    NOT NULL,
    artifact_id  TEXT,
    deployed_at  INTEGER NOT NULL
);
CREATE INDEX deployments_by_time ON deployments (deployed_at, service);
CREATE INDEX deployments_by_service ON deployments (service, environment, deployed_at);
