-- +goose NO TRANSACTION
-- +goose Up
-- The queue by deadline (sort=deadline), the soonest first, keyset-paged on
-- (deadline, id) as the default order is on (submitted_at, id). Built
-- without blocking intake.
CREATE INDEX CONCURRENTLY IF NOT EXISTS requests_deadline_idx ON requests (deadline, id) WHERE accepted;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS requests_deadline_idx;
