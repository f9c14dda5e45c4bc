-- External functions (transformers of kind `http`): the router enqueues one job per raw event and
-- function in the transaction that moves its cursor; the function worker deletes the job in the
-- transaction that stores the function's CDEvents (or its failure). A job that could not be
-- delivered (function down, timeout, 5xx, 429) stays, with its attempts, next attempt and error.
CREATE TABLE function_jobs (
    raw_seq         INTEGER NOT NULL REFERENCES cloudevents_raw (seq),
    function        TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    PRIMARY KEY (raw_seq, function)
);
CREATE INDEX function_jobs_due ON function_jobs (function, next_attempt_at, raw_seq);
