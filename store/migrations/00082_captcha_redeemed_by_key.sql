-- +goose Up
-- A captcha redeemed by a submission with an Idempotency-Key remembers the
-- key (a keyed hash of it), so that a retry of that very submission (its
-- first attempt ended ambiguously, say Temporal was unreachable) is let
-- through with the same captcha, and nothing else is.
ALTER TABLE captcha_redemptions ADD COLUMN idem_key text;

-- +goose Down
ALTER TABLE captcha_redemptions DROP COLUMN idem_key;
