-- The book's tables (cloudevents_raw, cdevents_raw, deployments), plus what makes the pipeline
-- incremental and exactly-once in effect: sequence numbers, unique keys and cursors.

CREATE TABLE cloudevents_raw (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     TEXT        NOT NULL,
    event_source TEXT        NOT NULL,
    event_type   TEXT        NOT NULL,
    event_time   TIMESTAMPTZ,
    received_at  TIMESTAMPTZ NOT NULL,
    -- 'events' (POST /events, /) or 'cdevents' (POST /cdevents: always passed through as a CDEvent)
    origin       TEXT        NOT NULL DEFAULT 'events',
    content      JSONB       NOT NULL,
    -- The appending transaction's id: appends run concurrently, so the router reads in
    -- (tx, seq) order, and only rows of transactions older than every running one.
    tx           BIGINT      NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    UNIQUE (event_source, event_id)
);
CREATE INDEX cloudevents_raw_by_tx ON cloudevents_raw (tx, seq);

CREATE TABLE cdevents_raw (
    seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cd_id             TEXT        NOT NULL,
    cd_source         TEXT        NOT NULL,
    cd_type           TEXT        NOT NULL,
    cd_subject_id     TEXT        NOT NULL,
    cd_subject_source TEXT,
    cd_timestamp      TIMESTAMPTZ NOT NULL,
    content           JSONB       NOT NULL,
    raw_seq           BIGINT REFERENCES cloudevents_raw (seq),
    transformer       TEXT        NOT NULL,
    stored_at         TIMESTAMPTZ NOT NULL,
    UNIQUE (cd_source, cd_id)
);
CREATE INDEX cdevents_raw_by_raw_seq ON cdevents_raw (raw_seq);

CREATE TABLE cursors (
    name        TEXT        PRIMARY KEY,
    position_tx BIGINT      NOT NULL DEFAULT 0,
    position    BIGINT      NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE transform_failures (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    raw_seq     BIGINT      NOT NULL REFERENCES cloudevents_raw (seq),
    transformer TEXT        NOT NULL,
    reason      TEXT        NOT NULL,
    failed_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (raw_seq, transformer)
);

CREATE TABLE deployments (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cdevent_seq  BIGINT      NOT NULL UNIQUE REFERENCES cdevents_raw (seq),
    cdevent_id   TEXT        NOT NULL,
    kind         TEXT        NOT NULL,
    service      TEXT        NOT NULL,
    environment  TEXT        NOT NULL,
    artifact_id  TEXT,
    deployed_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX deployments_by_time ON deployments (deployed_at, service);
CREATE INDEX deployments_by_service ON deployments (service, environment, deployed_at);
