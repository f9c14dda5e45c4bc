-- The length in bytes of each stored event's text as a read returns it (the JSONB's text, not
-- the text received), written with the row, so that a stage's
-- pass can read its next rows up to a budget of text (PASS_TEXT_BYTES) without converting
-- their JSONB to text first (its stored size can be a hundredth of the text). Rows stored
-- before this migration have none: the read measures theirs.
ALTER TABLE cloudevents_raw ADD COLUMN content_bytes integer;
ALTER TABLE cdevents_raw ADD COLUMN content_bytes integer;
