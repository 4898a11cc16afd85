-- +goose Up
-- The token a data source's connector calls the service with (the
-- subject's email of a request, export uploads): one per source, stored
-- hashed; a new one voids the old.
CREATE TABLE connector_tokens (
    data_source_id uuid PRIMARY KEY REFERENCES data_sources (id) ON DELETE CASCADE,
    token_hash     text NOT NULL UNIQUE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    created_by     uuid REFERENCES users (id) ON DELETE SET NULL
);

-- +goose Down
DROP TABLE connector_tokens;
