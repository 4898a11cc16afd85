-- +goose Up
-- A connector's export on its way in: parts sealed under the request's
-- data key as they arrive (a part sent again replaces it), made into a
-- task file of the source's task by the completion, whose file takes the
-- upload's id. Erased with the request's data.
CREATE TABLE connector_uploads (
    id             uuid PRIMARY KEY,
    request_id     uuid NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    data_source_id uuid NOT NULL REFERENCES data_sources (id) ON DELETE CASCADE,
    name           bytea NOT NULL, -- sealed, as task files' names
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connector_uploads_request ON connector_uploads (request_id);
CREATE INDEX connector_uploads_idle ON connector_uploads (updated_at);

CREATE TABLE connector_upload_parts (
    upload_id uuid NOT NULL REFERENCES connector_uploads (id) ON DELETE CASCADE,
    n         integer NOT NULL CHECK (n >= 1),
    size      bigint NOT NULL CHECK (size >= 0),
    sealed    bytea NOT NULL,
    PRIMARY KEY (upload_id, n)
);

-- +goose Down
DROP TABLE connector_upload_parts;
DROP TABLE connector_uploads;
