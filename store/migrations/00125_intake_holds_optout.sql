-- +goose Up
-- An opt-out accepted at submission (an opt-out track whose law forbids
-- requiring proof of identity) leaves pending_email_verification within a
-- second, its address still unconfirmed: counted by status alone, such
-- requests escaped the caps, and one address could be sent any number of
-- request_accepted mails. intake_hold_counts says which holds count: a
-- request waiting for its email, as before, and one on that track whose
-- address is not confirmed, still open and submitted within p_window (the
-- verification expiry: how long a request waiting for its email counts
-- before it expires). intake_hold_refusal takes the window and counts with
-- it; the reconciliation's sweep keeps the holds that still count.
-- +goose StatementBegin
CREATE FUNCTION intake_hold_counts(p_status text, p_identity_not_required boolean,
    p_email_verified_at timestamptz, p_submitted_at timestamptz, p_window interval) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT p_status = 'pending_email_verification'
        OR (p_identity_not_required AND p_email_verified_at IS NULL
            AND p_status NOT IN ('completed', 'rejected', 'expired', 'withdrawn')
            AND p_submitted_at > now() - p_window)
$$;
-- +goose StatementEnd

-- The new intake_hold_refusal takes the window as one more argument: an
-- overload beside 00078's, which stays for API servers not yet upgraded
-- (workers, which migrate on start, are upgraded first) and is to be
-- dropped in a later release. It is as in 00078_intake_holds, but counts
-- the holds intake_hold_counts names, with the window p_window.
-- +goose StatementBegin
CREATE FUNCTION intake_hold_refusal(p_email bytea, p_network bytea, p_bytes bigint,
    p_per_email integer, p_per_network integer, p_budget bigint, p_window interval, p_lock boolean) RETURNS text
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
            WHERE h.email_key = p_email
                AND intake_hold_counts(r.status, r.identity_not_required, r.email_verified_at, r.submitted_at, p_window);
        IF n >= p_per_email THEN
            RETURN 'email';
        END IF;
    END IF;
    SELECT count(*) INTO n FROM intake_holds h JOIN requests r ON r.id = h.request_id
        WHERE h.network_key = p_network
            AND intake_hold_counts(r.status, r.identity_not_required, r.email_verified_at, r.submitted_at, p_window);
    IF n >= p_per_network THEN
        RETURN 'network';
    END IF;
    SELECT coalesce(sum(h.bytes), 0) INTO held FROM intake_holds h JOIN requests r ON r.id = h.request_id
        WHERE intake_hold_counts(r.status, r.identity_not_required, r.email_verified_at, r.submitted_at, p_window);
    IF held + greatest(p_bytes, 1) > p_budget THEN
        RETURN 'budget';
    END IF;
    RETURN '';
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION intake_hold_refusal(bytea, bytea, bigint, integer, integer, bigint, interval, boolean);
DROP FUNCTION intake_hold_counts(text, boolean, timestamptz, timestamptz, interval);
