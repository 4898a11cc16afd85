-- +goose Up
-- Exact answers to actions, and a projection that never goes back in time.

-- The workflow's answer to each person's action (store.ActionOutcome),
-- written in the same transaction as the projection that follows it and
-- announced on the dsar_actions channel. The first outcome of an action id
-- is the one kept. A request discarded at intake takes its rows with it.
CREATE TABLE request_actions (
    request_id  uuid        NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    action_id   text        NOT NULL,
    signal      text        NOT NULL,
    applied     boolean     NOT NULL,
    code        text        NOT NULL DEFAULT '',
    reason      text        NOT NULL DEFAULT '',
    status      text        NOT NULL,
    deadline    timestamptz,
    acted_at    timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (request_id, action_id)
);

-- projection_seq is the sequence number of the last projection written
-- (an older one changes nothing); timeline is the workflow's timeline, so
-- the request detail reads Postgres only; attention names a step that
-- failed for good and waits for an operator.
ALTER TABLE requests
    ADD COLUMN projection_seq bigint NOT NULL DEFAULT 0,
    ADD COLUMN timeline       jsonb  NOT NULL DEFAULT '[]',
    ADD COLUMN attention      text   NOT NULL DEFAULT '';

-- An audit event's idempotency key: appending the same key twice stores one
-- row. Events from before keys have none.
ALTER TABLE audit_events ADD COLUMN key text;
CREATE UNIQUE INDEX audit_events_key_idx ON audit_events (key) WHERE key IS NOT NULL;
