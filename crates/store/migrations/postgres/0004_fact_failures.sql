-- CDEvents whose facts the calculator could not record (a text over its limit, or a row the
-- database refused), with the reason: recorded and skipped, so later CDEvents are counted.
CREATE TABLE fact_failures (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cdevent_seq BIGINT      NOT NULL REFERENCES cdevents_raw (seq),
    calculator  TEXT        NOT NULL,
    reason      TEXT        NOT NULL,
    failed_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (cdevent_seq, calculator)
);
