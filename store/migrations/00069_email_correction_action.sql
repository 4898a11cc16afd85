-- +goose Up
-- A staged address correction belongs to the action that staged it: the
-- workflow applies only that one (a later correction replaces an earlier
-- one still in flight).
ALTER TABLE requests ADD COLUMN corrected_action text;
