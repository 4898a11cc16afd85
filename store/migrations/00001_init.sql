-- +goose Up
-- The first schema of the DSAR service. Forward-only: later changes are new
-- files. PII never appears in plaintext here: it is sealed under the
-- request's data key (request_keys), and email lookups use a keyed hash.

-- Staff users. Staff emails are work addresses, not data-subject PII.
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL,
    name          text NOT NULL,
    role          text NOT NULL CHECK (role IN ('org_owner', 'admin', 'manager', 'source_owner')),
    password_hash text NOT NULL,
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_role_idx ON users (role) WHERE disabled_at IS NULL;

-- Requesters who set a portal password. The account is known only by the
-- keyed hash of its verified email.
CREATE TABLE portal_accounts (
    id            uuid PRIMARY KEY,
    email_hash    bytea NOT NULL UNIQUE,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);

-- Sessions of staff and portal users. Only the token's hash is stored.
CREATE TABLE sessions (
    token_hash        text PRIMARY KEY,
    kind              text NOT NULL CHECK (kind IN ('staff', 'portal')),
    user_id           uuid REFERENCES users (id) ON DELETE CASCADE,
    portal_account_id uuid REFERENCES portal_accounts (id) ON DELETE CASCADE,
    created_at        timestamptz NOT NULL DEFAULT now(),
    last_seen_at      timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    revoked_at        timestamptz,
    CHECK ((kind = 'staff' AND user_id IS NOT NULL) OR (kind = 'portal' AND portal_account_id IS NOT NULL))
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_portal_idx ON sessions (portal_account_id);

-- Data sources (a CRM, a mail tool, a database) and their owners.
CREATE TABLE data_sources (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX data_sources_name_key ON data_sources (lower(name));

CREATE TABLE data_source_owners (
    data_source_id uuid NOT NULL REFERENCES data_sources (id) ON DELETE CASCADE,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    PRIMARY KEY (data_source_id, user_id)
);
CREATE INDEX data_source_owners_user_idx ON data_source_owners (user_id);

-- Requests: the queue, a projection that activities keep in step with each
-- request's workflow. A row is visible (accepted) only once its workflow has
-- started, so a failed start never shows a half request.
CREATE TABLE requests (
    id                  uuid PRIMARY KEY,
    accepted            boolean NOT NULL DEFAULT false,
    status              text NOT NULL CHECK (status IN ('pending_email_verification', 'awaiting_identity',
                            'identity_verified', 'in_progress', 'ready_to_close', 'completed', 'rejected', 'expired')),
    request_type        text NOT NULL CHECK (request_type IN ('complaint', 'correction', 'deletion', 'do_not_sell', 'info', 'opt_out')),
    requestor_type      text NOT NULL CHECK (requestor_type IN ('customer', 'employee', 'other')),
    country             text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    region              text NOT NULL DEFAULT '',
    submitted_at        timestamptz NOT NULL,
    deadline            timestamptz NOT NULL,
    original_deadline   timestamptz NOT NULL,
    deadline_rule       text NOT NULL,
    deadline_rule_name  text NOT NULL,
    max_extension       text NOT NULL DEFAULT 'P0D',
    extended_at         timestamptz,
    extension_days      integer NOT NULL DEFAULT 0,
    extension_reason    text NOT NULL DEFAULT '',
    overdue             boolean NOT NULL DEFAULT false,
    email_verified_at   timestamptz,
    identity_decided_at timestamptz,
    identity_verified   boolean,
    closed_at           timestamptz,
    close_reasons       text[] NOT NULL DEFAULT '{}',
    close_note          text NOT NULL DEFAULT '',
    -- Keyed hash of the requester's email (blind index); kept after close so
    -- the requester still finds the request in the portal.
    email_hash          bytea NOT NULL,
    -- Sealed JSON of first name, last name, email and description, under the
    -- request's data key. NULL once scrubbed.
    pii                 bytea,
    scrubbed_at         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
-- The queue: newest first, keyset-paged on (submitted_at, id), per filter.
CREATE INDEX requests_queue_idx ON requests (submitted_at DESC, id DESC) WHERE accepted;
CREATE INDEX requests_status_idx ON requests (status, submitted_at DESC, id DESC) WHERE accepted;
CREATE INDEX requests_type_idx ON requests (request_type, submitted_at DESC, id DESC) WHERE accepted;
CREATE INDEX requests_requestor_idx ON requests (requestor_type, submitted_at DESC, id DESC) WHERE accepted;
CREATE INDEX requests_country_idx ON requests (country, submitted_at DESC, id DESC) WHERE accepted;
CREATE INDEX requests_overdue_idx ON requests (submitted_at DESC, id DESC) WHERE accepted AND overdue;
CREATE INDEX requests_email_hash_idx ON requests (email_hash);
CREATE INDEX requests_unaccepted_idx ON requests (created_at) WHERE NOT accepted;

-- Each request's data key, wrapped by a master key. Deleting the row
-- destroys every sealed field of the request (crypto-shredding).
CREATE TABLE request_keys (
    request_id  uuid PRIMARY KEY REFERENCES requests (id) ON DELETE CASCADE,
    key_id      text NOT NULL,
    wrapped_key bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The proof of identity, sealed under the request's data key; deleted as
-- soon as identity is decided.
CREATE TABLE identity_documents (
    request_id   uuid PRIMARY KEY REFERENCES requests (id) ON DELETE CASCADE,
    content_type text NOT NULL,
    size         integer NOT NULL,
    sealed       bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- One task per (request, data source).
CREATE TABLE tasks (
    request_id       uuid NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    data_source_id   uuid NOT NULL REFERENCES data_sources (id) ON DELETE RESTRICT,
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'completed')),
    assigned_at      timestamptz NOT NULL,
    assigned_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    last_activity_at timestamptz NOT NULL,
    completed_at     timestamptz,
    completed_by     uuid REFERENCES users (id) ON DELETE SET NULL,
    note             text NOT NULL DEFAULT '',
    PRIMARY KEY (request_id, data_source_id)
);
CREATE INDEX tasks_source_idx ON tasks (data_source_id, status);

-- Messages between staff and the requester, sealed under a per-request
-- message key that survives scrubbing, so the history stays readable.
CREATE TABLE message_keys (
    request_id  uuid PRIMARY KEY REFERENCES requests (id) ON DELETE CASCADE,
    key_id      text NOT NULL,
    wrapped_key bytea NOT NULL
);

CREATE TABLE messages (
    id                   uuid PRIMARY KEY,
    request_id           uuid NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    sender               text NOT NULL CHECK (sender IN ('staff', 'requester')),
    staff_user_id        uuid REFERENCES users (id) ON DELETE SET NULL,
    body                 bytea NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    read_by_staff_at     timestamptz,
    read_by_requester_at timestamptz
);
CREATE INDEX messages_request_idx ON messages (request_id, created_at, id);

CREATE TABLE message_attachments (
    id           uuid PRIMARY KEY,
    message_id   uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    filename     bytea NOT NULL,
    content_type text NOT NULL,
    size         integer NOT NULL,
    sealed       bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_attachments_message_idx ON message_attachments (message_id);

-- The append-only audit trail. Each row's hash covers its content and the
-- previous row's hash, so any edit or deletion breaks the chain.
CREATE TABLE audit_events (
    seq        bigint PRIMARY KEY,
    request_id uuid,
    actor_kind text NOT NULL CHECK (actor_kind IN ('staff', 'requester', 'system')),
    actor_id   text NOT NULL DEFAULT '',
    action     text NOT NULL,
    detail     jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    prev_hash  bytea NOT NULL,
    hash       bytea NOT NULL
);
CREATE INDEX audit_events_request_idx ON audit_events (request_id, seq);

-- Single-use tokens from email links (verification, portal invitation).
CREATE TABLE tokens (
    token_hash text PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('email_verification', 'portal_invitation')),
    request_id uuid REFERENCES requests (id) ON DELETE CASCADE,
    email_hash bytea NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tokens_request_idx ON tokens (request_id);

-- Mail kept by the dev outbox mailer (dev mode only).
CREATE TABLE outbox_mail (
    id              uuid PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    from_addr       text NOT NULL,
    to_addr         text NOT NULL,
    subject         text NOT NULL,
    html            text NOT NULL,
    text            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Staff alerts the workflows record; the digest sends them once a day.
CREATE TABLE alerts (
    id           bigserial PRIMARY KEY,
    dedupe_key   text NOT NULL UNIQUE,
    recipient_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    request_id   uuid REFERENCES requests (id) ON DELETE CASCADE,
    kind         text NOT NULL,
    detail       jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz
);
CREATE INDEX alerts_pending_idx ON alerts (recipient_id, id) WHERE sent_at IS NULL;

-- Answers to requests made with an Idempotency-Key, replayed on retry.
CREATE TABLE idempotency_keys (
    scope        text NOT NULL,
    key          text NOT NULL,
    request_hash text NOT NULL,
    status       integer,
    body         bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);

-- Captcha challenges already redeemed (single use), until they expire.
CREATE TABLE captcha_redemptions (
    signature  text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX captcha_redemptions_expiry_idx ON captcha_redemptions (expires_at);
