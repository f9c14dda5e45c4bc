-- Nothing on SQLite: a stage's pass finds its next rows up to a budget of text
-- (PASS_TEXT_BYTES) with octet_length(content), which SQLite answers from the row's header
-- without reading the text. (PostgreSQL keeps JSONB, whose stored size is no measure of its
-- text, so its migration 0007 adds content_bytes.)
SELECT 1;
