-- +goose Up
-- API processes keep staff sessions they checked a moment ago (store's
-- session cache). Any change that could end a session or change what its
-- user may do notifies them, whichever process or tool made it, and they
-- forget what they kept. Touching last_seen_at notifies no one.
-- +goose StatementBegin
CREATE FUNCTION notify_staff_auth() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('dsar_staff_auth', '');
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER sessions_staff_auth AFTER UPDATE OF revoked_at, expires_at, user_id OR DELETE OR TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION notify_staff_auth();
CREATE TRIGGER users_staff_auth AFTER UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION notify_staff_auth();

