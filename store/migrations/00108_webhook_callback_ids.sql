-- +goose Up
-- The webhook-id of every signed callback accepted for checking, per data
-- source (the owners of one source share its secret): a message seen again
-- is a replay and is refused. A replay carries its first timestamp, so once
-- that is past the signature's tolerance (5 minutes) it is refused as stale:
-- rows older than three times that are swept.
CREATE TABLE webhook_callback_ids (
    data_source_id uuid NOT NULL REFERENCES data_sources (id) ON DELETE CASCADE,
    webhook_id     text NOT NULL,
    seen_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (data_source_id, webhook_id)
);
CREATE INDEX webhook_callback_ids_seen ON webhook_callback_ids (seen_at);
