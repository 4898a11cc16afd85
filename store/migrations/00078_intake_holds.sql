-- +goose Up
-- What a request from the public form holds while its email is unconfirmed:
-- one row per such request, under keyed hashes of its email (the request's
-- blind index) and of its client's network, with the size of its sealed
-- identity document. The caps on unconfirmed requests per email and per
-- network, and the budget of bytes they hold, are counted from these rows
-- (store.CreateRequest), so every API process shares them. A row counts only
-- while its request is pending_email_verification; confirming the email
-- deletes it, and the reconciliation sweeps those of requests that moved on.
CREATE TABLE intake_holds (
    request_id  uuid PRIMARY KEY REFERENCES requests (id) ON DELETE CASCADE,
    email_key   bytea NOT NULL,
    network_key bytea NOT NULL,
    bytes       bigint NOT NULL CHECK (bytes >= 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX intake_holds_email_idx ON intake_holds (email_key);
CREATE INDEX intake_holds_network_idx ON intake_holds (network_key);
CREATE INDEX intake_holds_created_idx ON intake_holds (created_at);

-- intake_hold_refusal says which limit a new hold of p_bytes would break:
-- 'email', 'network', 'budget', or '' for none. With p_lock it first takes
-- transaction-scoped advisory locks on the email and the network (always in
-- that order), and, being VOLATILE, counts with a snapshot taken after them:
-- two submissions for one email or network, through any processes, are
-- counted one after the other. The byte budget takes no lock of its own (it
-- would serialise every submission): concurrent submissions may pass it
-- together, by at most one document each.
-- +goose StatementBegin
CREATE FUNCTION intake_hold_refusal(p_email bytea, p_network bytea, p_bytes bigint,
    p_per_email integer, p_per_network integer, p_budget bigint, p_lock boolean) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n    bigint;
    held bigint;
BEGIN
    IF p_lock THEN
        IF p_email IS NOT NULL THEN
            PERFORM pg_advisory_xact_lock(hashtextextended('dsar intake email ' || encode(p_email, 'hex'), 0));
        END IF;
        PERFORM pg_advisory_xact_lock(hashtextextended('dsar intake network ' || encode(p_network, 'hex'), 0));
    END IF;
    IF p_email IS NOT NULL THEN
        SELECT count(*) INTO n FROM intake_holds h JOIN requests r ON r.id = h.request_id
            WHERE h.email_key = p_email AND r.status = 'pending_email_verification';
        IF n >= p_per_email THEN
            RETURN 'email';
        END IF;
    END IF;
    SELECT count(*) INTO n FROM intake_holds h JOIN requests r ON r.id = h.request_id
        WHERE h.network_key = p_network AND r.status = 'pending_email_verification';
    IF n >= p_per_network THEN
        RETURN 'network';
    END IF;
    SELECT coalesce(sum(h.bytes), 0) INTO held FROM intake_holds h JOIN requests r ON r.id = h.request_id
        WHERE r.status = 'pending_email_verification';
    IF held + greatest(p_bytes, 1) > p_budget THEN
        RETURN 'budget';
    END IF;
    RETURN '';
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION intake_hold_refusal(bytea, bytea, bigint, integer, integer, bigint, boolean);
DROP TABLE intake_holds;
