-- +goose Up
-- The closing mail of a closed request could not be delivered: the address
-- is kept for a while so that staff can send it again.
ALTER TABLE requests ADD COLUMN closing_mail_failed boolean NOT NULL DEFAULT false;
