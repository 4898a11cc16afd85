-- +goose Up
-- The jurisdiction rule's clocks (issue 18), projected from the workflow:
-- when receipt must be confirmed and when it was, until when an extension
-- may be noticed, whether the clock may stop and the pause under way, the
-- opt-out track's identity step recorded as not required, and the deadline
-- explained in words. None is personal data.
ALTER TABLE requests ADD COLUMN acknowledge_by timestamptz;
ALTER TABLE requests ADD COLUMN acknowledged_at timestamptz;
ALTER TABLE requests ADD COLUMN extension_notice_by timestamptz;
ALTER TABLE requests ADD COLUMN pause_allowed boolean NOT NULL DEFAULT false;
ALTER TABLE requests ADD COLUMN paused jsonb;
ALTER TABLE requests ADD COLUMN identity_not_required boolean NOT NULL DEFAULT false;
ALTER TABLE requests ADD COLUMN deadline_why text NOT NULL DEFAULT '';
