-- +goose Up
-- Fulfilment: the files a data source's owner attaches to their task, and
-- the access package built from them. Content is stored in sealed chunks
-- (AES-GCM, one per chunk, bound to its file, position and whether it is
-- the last), so a large export never sits whole in memory.

-- Task files are sealed under the request's data key: the erasure that
-- destroys the key at close makes them unreadable, and deletes them.
CREATE TABLE task_files (
    id             uuid PRIMARY KEY,
    request_id     uuid NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    data_source_id uuid NOT NULL REFERENCES data_sources (id) ON DELETE RESTRICT,
    name           bytea NOT NULL, -- sealed: a file's name may name the requester
    content_type   text NOT NULL,
    size           bigint NOT NULL CHECK (size >= 0),
    sha256         text NOT NULL,
    chunks         integer NOT NULL CHECK (chunks >= 1),
    -- An upload streams its chunks in short transactions while pending,
    -- then is made whole in one: a slow client holds no lock meanwhile.
    pending        boolean NOT NULL DEFAULT true,
    uploaded_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    removed_at     timestamptz,
    removed_by     uuid REFERENCES users (id) ON DELETE SET NULL,
    removed_reason text
);
CREATE INDEX task_files_request ON task_files (request_id, data_source_id, created_at);

CREATE TABLE task_file_chunks (
    file_id uuid NOT NULL REFERENCES task_files (id) ON DELETE CASCADE,
    seq     integer NOT NULL,
    sealed  bytea NOT NULL,
    PRIMARY KEY (file_id, seq)
);

-- One access package per request at a time, sealed under a key of its
-- own: it outlives the request's erasure until it expires, when its key
-- and content are deleted.
CREATE TABLE packages (
    id            uuid PRIMARY KEY,
    request_id    uuid NOT NULL UNIQUE REFERENCES requests (id) ON DELETE CASCADE,
    status        text NOT NULL CHECK (status IN ('failed', 'ready', 'approved', 'published', 'expired')),
    error         text, -- why the last build failed (ids only, never names or content)
    key_id        text,
    wrapped_key   bytea,
    size          bigint NOT NULL DEFAULT 0,
    sha256        text NOT NULL DEFAULT '',
    chunks        integer NOT NULL DEFAULT 0,
    file_ids      uuid[] NOT NULL DEFAULT '{}',
    built_at      timestamptz NOT NULL DEFAULT now(),
    approved_at   timestamptz,
    approved_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    approval_note text,
    published_at  timestamptz,
    expires_at    timestamptz,
    expired_at    timestamptz
);

CREATE TABLE package_chunks (
    package_id uuid NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    seq        integer NOT NULL,
    sealed     bytea NOT NULL,
    PRIMARY KEY (package_id, seq)
);

-- Set by the workflow's projection: completing this request needs an
-- approved package, or a reason why nothing is sent.
ALTER TABLE requests ADD COLUMN package_required boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE requests DROP COLUMN package_required;
DROP TABLE package_chunks;
DROP TABLE packages;
DROP TABLE task_file_chunks;
DROP TABLE task_files;
