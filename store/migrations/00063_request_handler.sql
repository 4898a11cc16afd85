-- +goose NO TRANSACTION
-- +goose Up
-- The staff member who handles a request (issue 15): set and cleared by
-- staff through the API, never by the workflow's projection. A user who is
-- removed leaves the request without a handler.
ALTER TABLE requests ADD COLUMN IF NOT EXISTS handler_id uuid REFERENCES users (id) ON DELETE SET NULL;
-- The queue filtered by handler, newest first, and alert routing by handler.
-- Built without blocking intake.
CREATE INDEX CONCURRENTLY IF NOT EXISTS requests_handler_idx ON requests (handler_id, submitted_at DESC, id DESC)
    WHERE accepted AND handler_id IS NOT NULL;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS requests_handler_idx;
ALTER TABLE requests DROP COLUMN IF EXISTS handler_id;
