-- +goose Up
-- Unread counts of the secure messages: each side counts the other side's
-- messages it has not opened yet, per request.
CREATE INDEX messages_unread_by_staff_idx ON messages (request_id)
    WHERE sender = 'requester' AND read_by_staff_at IS NULL;
CREATE INDEX messages_unread_by_requester_idx ON messages (request_id)
    WHERE sender = 'staff' AND read_by_requester_at IS NULL;

-- When a request's message key was made (the key outlives the PII key).
ALTER TABLE message_keys ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
