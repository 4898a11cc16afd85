-- +goose Up
-- Compliance records: what was done for each request, without personal
-- data, kept for retention.records after the request closed (CCPA §7101,
-- Colorado Rule 6.11: 24 months). The request's workflow upserts its row
-- with every projection write; the PII scrub never touches it, and only
-- the retention sweep deletes it, once retain_until has passed and no
-- legal hold is on. No foreign key: a record outlives what it describes.
CREATE TABLE compliance_records (
    request_id        uuid PRIMARY KEY,
    reference         text NOT NULL,
    request_type      text NOT NULL,
    requestor_type    text NOT NULL,
    rule              text NOT NULL,
    channel           text NOT NULL,
    received_at       timestamptz NOT NULL,
    acknowledged_at   timestamptz,
    due_at            timestamptz NOT NULL,
    extended_to       timestamptz,
    responded_at      timestamptz,
    -- completed_whole | completed_part | denied | withdrawn | expired; ''
    -- while the request is open.
    outcome           text NOT NULL DEFAULT '',
    denial_basis      text[] NOT NULL DEFAULT '{}',
    appeal_filed_at   timestamptz,
    appeal_outcome    text NOT NULL DEFAULT '',
    appeal_decided_at timestamptz,
    -- Per data source: {"id", "name", "status", "outcome", "record_count"}.
    sources           jsonb NOT NULL DEFAULT '[]',
    legal_hold        boolean NOT NULL DEFAULT false,
    -- The projection's sequence number: an older write never overwrites a
    -- newer record.
    seq               bigint NOT NULL DEFAULT 0,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    -- responded_at + retention.records; NULL while open, and for records
    -- written by this migration (the sweep then counts from responded_at
    -- with the configured period).
    retain_until      timestamptz
);
CREATE INDEX compliance_records_received_idx ON compliance_records (received_at, request_id);
CREATE INDEX compliance_records_responded_idx ON compliance_records (responded_at) WHERE responded_at IS NOT NULL;

-- A legal hold on a request: while on, its erasure at close waits and the
-- retention sweep leaves it alone. The reason is staff's text (never sent
-- to the requester; the audit trail holds its hash).
ALTER TABLE requests ADD COLUMN legal_hold_on boolean NOT NULL DEFAULT false;
ALTER TABLE requests ADD COLUMN legal_hold_reason text NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN legal_hold_since timestamptz;
ALTER TABLE requests ADD COLUMN legal_hold_by text NOT NULL DEFAULT '';

-- The retention sweep clears the email blind index of requests erased
-- long ago (retention.blind_index): the portal then no longer finds them.
ALTER TABLE requests ALTER COLUMN email_hash DROP NOT NULL;

-- Records of the requests accepted before this migration, from what their
-- rows hold (the workflow's next write brings an open one up to date).
INSERT INTO compliance_records (request_id, reference, request_type, requestor_type, rule, channel,
    received_at, due_at, extended_to, responded_at, outcome, denial_basis, sources, seq, updated_at)
SELECT r.id, 'DSR-' || upper(substr(replace(r.id::text, '-', ''), 1, 8)), r.request_type, r.requestor_type,
    r.deadline_rule, r.channel, r.submitted_at, r.original_deadline,
    CASE WHEN r.extended_at IS NOT NULL THEN r.deadline END, r.closed_at,
    CASE
        WHEN r.closed_at IS NULL THEN ''
        WHEN r.status = 'completed' AND EXISTS (SELECT 1 FROM tasks t WHERE t.request_id = r.id AND t.outcome = 'not_applicable')
            THEN 'completed_part'
        WHEN r.status = 'completed' THEN 'completed_whole'
        WHEN r.status = 'rejected' THEN 'denied'
        WHEN r.status IN ('withdrawn', 'expired') THEN r.status
        ELSE ''
    END,
    CASE WHEN r.status = 'rejected' THEN r.close_reasons ELSE '{}' END,
    coalesce((SELECT jsonb_agg(jsonb_build_object('id', t.data_source_id, 'name', ds.name, 'status', t.status,
            'outcome', t.outcome, 'record_count', t.record_count) ORDER BY t.assigned_at, t.data_source_id)
        FROM tasks t JOIN data_sources ds ON ds.id = t.data_source_id WHERE t.request_id = r.id), '[]'::jsonb),
    0, now()
FROM requests r
WHERE r.accepted
ON CONFLICT (request_id) DO NOTHING;

-- +goose Down
ALTER TABLE requests DROP COLUMN legal_hold_by;
ALTER TABLE requests DROP COLUMN legal_hold_since;
ALTER TABLE requests DROP COLUMN legal_hold_reason;
ALTER TABLE requests DROP COLUMN legal_hold_on;
DROP TABLE compliance_records;
