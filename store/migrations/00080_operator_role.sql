-- +goose Up
-- The operator role: reads Temporal's histories through the codec endpoint,
-- works no request.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('org_owner', 'admin', 'manager', 'source_owner', 'operator'));
