-- +goose Up
-- The audit chain becomes keyed: each new row's hash is an HMAC-SHA256
-- under a key derived from the master key named by mac_key_id (never
-- stored here), so someone who can write to the database cannot forge a
-- row. Rows from before hold NULL and keep their plain SHA-256 hash; they
-- can only come first (docs/decisions.md).
ALTER TABLE audit_events ADD COLUMN mac_key_id text;

-- The trail is append-only for the database's own users too: a trigger
-- refuses every UPDATE, DELETE and TRUNCATE, whoever runs it. (A table's
-- owner can still disable the trigger; the keyed chain and its anchors
-- find what that makes possible.)
-- +goose StatementBegin
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- +goose Down
DROP TRIGGER audit_events_no_truncate ON audit_events;
DROP TRIGGER audit_events_no_change ON audit_events;
DROP FUNCTION audit_events_append_only();
ALTER TABLE audit_events DROP COLUMN mac_key_id;
