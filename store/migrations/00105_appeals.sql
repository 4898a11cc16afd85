-- +goose Up
-- Appeals (issue 18): a requester may appeal a rejection or a partial
-- completion where the jurisdiction's rule gives an appeal right.

-- Who decided the request (the staff member an appeal must not go to) and
-- until when its requester may appeal.
ALTER TABLE requests ADD COLUMN decided_by uuid REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE requests ADD COLUMN appeal_until timestamptz;

-- The requester's contact details (name and email), sealed under a key of
-- their own so that they outlive the erasure at close for as long as the
-- requester may appeal (and until an appeal's decision is mailed), then
-- are destroyed with their key. Deleting the row is the crypto-shredding:
-- the key and the ciphertext go together.
CREATE TABLE request_contacts (
    request_id  uuid PRIMARY KEY REFERENCES requests (id) ON DELETE CASCADE,
    key_id      text NOT NULL,
    wrapped_key bytea NOT NULL,
    sealed      bytea NOT NULL,
    keep_until  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One appeal per request: its own workflow (dsar-<request id>-appeal)
-- writes its state here; the request's workflow inserts it when it takes
-- the requester's appeal.
CREATE TABLE appeals (
    id          uuid PRIMARY KEY,
    request_id  uuid NOT NULL UNIQUE REFERENCES requests (id) ON DELETE CASCADE,
    status      text NOT NULL CHECK (status IN ('open', 'upheld', 'reversed')),
    filed_at    timestamptz NOT NULL,
    deadline    timestamptz NOT NULL,
    overdue     boolean NOT NULL DEFAULT false,
    decided_at  timestamptz,
    decided_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    explanation text NOT NULL DEFAULT '',
    seq         bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX appeals_open ON appeals (deadline) WHERE status = 'open';
