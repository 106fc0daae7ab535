-- Educators and compliance: cohorts with invites that bind on first sign-in, templates that
-- remember their review and takedown, strategies that remember the template they were cloned
-- from, roles an admin set (kept over the token's claim), and the audit trail: an append-only
-- hash chain of every compliance-relevant change.

ALTER TABLE cohorts
    ADD COLUMN description TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    ADD COLUMN updated_at  TIMESTAMPTZ NOT NULL DEFAULT now();
CREATE INDEX cohorts_educator_idx ON cohorts (educator_id, created_at DESC, id DESC);
CREATE INDEX cohort_members_user_idx ON cohort_members (user_id);

-- an e-mail invited before its user exists; becomes a membership when that e-mail first signs in
CREATE TABLE cohort_invites (
    cohort_id   UUID NOT NULL REFERENCES cohorts (id) ON DELETE CASCADE,
    email       TEXT NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
    invited_by  UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (cohort_id, email)
);
CREATE INDEX cohort_invites_email_idx ON cohort_invites (email);

-- deleting a cohort keeps its templates (with their clones' attribution), seen by their educator only
ALTER TABLE template_shares
    ADD COLUMN review_note     TEXT,
    ADD COLUMN takedown_reason TEXT,
    DROP CONSTRAINT template_shares_cohort_fkey,
    ADD CONSTRAINT template_shares_cohort_fkey FOREIGN KEY (cohort_id) REFERENCES cohorts (id) ON DELETE SET NULL,
    DROP CONSTRAINT template_shares_cohort_check,
    ADD CONSTRAINT template_shares_cohort_check CHECK (audience_scope = 'cohort' OR cohort_id IS NULL);
CREATE INDEX template_shares_educator_idx ON template_shares (educator_id, created_at DESC);

ALTER TABLE strategies ADD COLUMN cloned_from_template_id UUID REFERENCES template_shares (id) ON DELETE SET NULL;

-- roles an admin set stay over what later tokens claim
ALTER TABLE users ADD COLUMN roles_set_by_admin BOOLEAN NOT NULL DEFAULT false;

-- the audit trail: record `seq` carries hash = sha256(prev_hash || canonical JSON of the record),
-- before/after kept as the exact canonical JSON text that was hashed
CREATE TABLE audit_log (
    seq          BIGINT PRIMARY KEY CHECK (seq >= 1),
    actor        UUID,
    action       TEXT NOT NULL,
    entity_type  TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    before_json  TEXT,
    after_json   TEXT,
    request_id   TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE
);
CREATE INDEX audit_log_entity_idx ON audit_log (entity_type, entity_id, seq);
CREATE INDEX audit_log_time_idx ON audit_log (created_at);
