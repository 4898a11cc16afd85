-- +goose Up
-- The appeal authority of a request (issue 18): the authority and complaint
-- contact of the jurisdiction rule captured at intake, the one the
-- request's workflow carries and names in the mail when an appeal is
-- upheld, so that the portal names the same ones whatever the configuration
-- says later. NULL: the rule gives no appeal right, or the request came
-- before this column (the portal then names the configured rule's). None
-- is personal data.
ALTER TABLE requests ADD COLUMN appeal_authority text;
ALTER TABLE requests ADD COLUMN appeal_contact text;
