-- +goose Up
-- The note staff give with the identity decision ("passport matches"),
-- kept with the request like the closing note.
ALTER TABLE requests ADD COLUMN identity_note text NOT NULL DEFAULT '';
