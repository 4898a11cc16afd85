-- +goose Up
-- The language the requester is answered in (pages, every later mail):
-- chosen at intake from the form's language, or by staff for a request
-- they record. Not personal data: kept after the PII is erased.
ALTER TABLE requests ADD COLUMN language text NOT NULL DEFAULT 'en'
    CHECK (language IN ('en', 'de', 'fr', 'es'));
