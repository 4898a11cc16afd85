-- +goose Up
-- How a data source's tasks are fulfilled: by its owners (manual), or by
-- the system through a connector on the source's own task queue (postgres,
-- mysql) or a job posted to the owner's endpoint (webhook). Credentials
-- never live here: the connector holds them, next to the data.
ALTER TABLE data_sources
    ADD COLUMN mode text NOT NULL DEFAULT 'manual' CHECK (mode IN ('manual', 'postgres', 'mysql', 'webhook')),
    ADD COLUMN task_queue text NOT NULL DEFAULT '',
    ADD COLUMN dry_run boolean NOT NULL DEFAULT false,
    ADD COLUMN time_limit_seconds bigint NOT NULL DEFAULT 259200 CHECK (time_limit_seconds > 0);
UPDATE data_sources SET task_queue = 'dsar-source-' || left(id::text, 8);
