-- +goose Up
-- How a request reached the company (issue 15): the web form, or a channel
-- staff recorded it from (phone, mail, email, in person), and who recorded
-- it. Requests made before this migration came through the form.
ALTER TABLE requests ADD COLUMN channel text NOT NULL DEFAULT 'form'
    CHECK (channel IN ('form', 'phone', 'mail', 'email', 'in_person'));
ALTER TABLE requests ADD COLUMN recorded_by uuid REFERENCES users (id) ON DELETE SET NULL;
