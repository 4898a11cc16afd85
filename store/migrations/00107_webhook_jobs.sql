-- +goose Up
-- A webhook job: one run of the SendWebhookJob activity, all its attempts.
-- id is the job message's webhook-id. The job's callback URL carries a
-- one-time token, stored as its hash; the activity's task token (which
-- completes it) is sealed under a key derived from the master key named by
-- key_id, bound to the job's id. A job takes one callback until expires_at
-- (the source's time limit); closed_at ends it sooner: the callback came
-- ('done', 'failed'), the endpoint refused the job ('rejected'), or a newer
-- job for the same task replaced it ('superseded').
CREATE TABLE webhook_jobs (
    id             text PRIMARY KEY,
    token_hash     text NOT NULL UNIQUE,
    request_id     uuid NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    data_source_id uuid NOT NULL REFERENCES data_sources (id) ON DELETE CASCADE,
    request_type   text NOT NULL,
    task_token     bytea NOT NULL,
    key_id         text NOT NULL,
    attempt        integer NOT NULL,
    expires_at     timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    closed_at      timestamptz,
    closed_reason  text CHECK (closed_reason IN ('done', 'failed', 'rejected', 'superseded'))
);
CREATE INDEX webhook_jobs_task ON webhook_jobs (request_id, data_source_id) WHERE closed_at IS NULL;
