-- +goose Up
-- Staff side. Data sources are deleted softly: a source that had tasks keeps
-- its row (tasks refer to it, and the request's history shows its name), but
-- it leaves every list, cannot be assigned, and its name is free again.
ALTER TABLE data_sources ADD COLUMN deleted_at timestamptz;
DROP INDEX data_sources_name_key;
CREATE UNIQUE INDEX data_sources_live_name_key ON data_sources (lower(name)) WHERE deleted_at IS NULL;

-- The queue's data_source_id filter and a source owner's view start from the
-- source's tasks.
CREATE INDEX tasks_source_request_idx ON tasks (data_source_id, request_id);

-- Expired sessions can be swept by expiry.
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
