-- +goose Up
-- A requester can withdraw an open request: a final status of its own.
ALTER TABLE requests DROP CONSTRAINT requests_status_check;
ALTER TABLE requests ADD CONSTRAINT requests_status_check CHECK (status IN ('pending_email_verification',
    'awaiting_identity', 'identity_verified', 'in_progress', 'ready_to_close', 'completed', 'rejected',
    'expired', 'withdrawn'));

-- A task ends with an outcome (and how many records it concerned), or is
-- declined with a reason and goes back to the request's handler; it can be
-- given to one person (its assignee) instead of every owner of its source.
ALTER TABLE tasks DROP CONSTRAINT tasks_status_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_status_check CHECK (status IN ('open', 'completed', 'declined'));
ALTER TABLE tasks ADD COLUMN outcome text NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN record_count bigint CHECK (record_count >= 0);
ALTER TABLE tasks ADD COLUMN decline_reason text NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN assignee_id uuid REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX tasks_assignee_idx ON tasks (assignee_id, status) WHERE assignee_id IS NOT NULL;
