-- +goose Up
-- A task run by the system: the mode its source had when it was assigned,
-- and where its child workflow stands (step, state, error for people,
-- rows a dry run matched), as the request's workflow projects it.
ALTER TABLE tasks
    ADD COLUMN mode text NOT NULL DEFAULT 'manual',
    ADD COLUMN automation jsonb;
