-- +goose Up
-- Single sign-on: a staff user signed in through OpenID Connect is known by
-- the issuer and subject of their ID token. A user made just in time has no
-- password (password_hash ''), so only single sign-on opens their account.
ALTER TABLE users ADD COLUMN oidc_issuer text, ADD COLUMN oidc_subject text;
CREATE UNIQUE INDEX users_oidc_key ON users (oidc_issuer, oidc_subject) WHERE oidc_subject IS NOT NULL;
