-- +goose Up
-- Webhook data sources: the endpoint the service posts each job to, and the
-- source's signing secret (Standard Webhooks, "whsec_..."), sealed under a
-- key derived from the master key named by webhook_key_id. The service
-- makes the secret and shows it once; only the sealed form is kept.
ALTER TABLE data_sources ADD COLUMN webhook_url text;
ALTER TABLE data_sources ADD COLUMN webhook_secret bytea;
ALTER TABLE data_sources ADD COLUMN webhook_key_id text;
ALTER TABLE data_sources ADD CONSTRAINT data_sources_webhook_secret_key
    CHECK ((webhook_secret IS NULL) = (webhook_key_id IS NULL));
