-- CDEvents whose facts the calculator could not record (a text over its limit, or a row the
-- database refused), with the reason: recorded and skipped, so later CDEvents are counted.
CREATE TABLE fact_failures (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    cdevent_seq INTEGER NOT NULL REFERENCES cdevents_raw (seq),
    calculator  TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    failed_at   INTEGER NOT NULL,
    UNIQUE (cdevent_seq, calculator)
);
