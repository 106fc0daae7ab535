-- Notifications on every channel: per-type channel preferences and the e-mail digest, webhook
-- endpoints (Standard Webhooks signing secrets), the delivery log of every attempt, `notify` jobs
-- tied to their notification, and the keys the platform signs its own links with.

-- a user's channels per notification type; no row means the defaults (e-mail for paper-trade
-- alerts and governance tasks, webhook for every type a registered webhook lists)
CREATE TABLE notification_preferences (
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type        TEXT NOT NULL CHECK (type IN ('backtest_complete', 'backtest_failed', 'paper_trade_alert', 'template_shared', 'governance_task', 'system')),
    email       BOOLEAN NOT NULL,
    webhook     BOOLEAN NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, type)
);

-- the daily e-mail digest: when on, e-mails are gathered into one a day (digest_sent_at: the last)
ALTER TABLE users
    ADD COLUMN email_digest BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN digest_sent_at TIMESTAMPTZ;

CREATE TABLE webhooks (
    id                    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id               UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    url                   TEXT NOT NULL CHECK (url ~* '^https?://'),
    types                 TEXT[] NOT NULL CHECK (cardinality(types) > 0),
    -- whsec_ + base64 of the HMAC key (Standard Webhooks); shown to its owner once
    secret                TEXT NOT NULL CHECK (secret LIKE 'whsec\_%'),
    enabled               BOOLEAN NOT NULL DEFAULT true,
    -- deliveries that failed for good since the last one that arrived
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    disabled_at           TIMESTAMPTZ,
    disabled_reason       TEXT,
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_user_idx ON webhooks (user_id);

-- one row per attempt to deliver a notification on a channel
CREATE TABLE notification_deliveries (
    id               BIGSERIAL PRIMARY KEY,
    notification_id  UUID NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    channel          TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
    webhook_id       UUID REFERENCES webhooks (id) ON DELETE SET NULL,
    -- the address or URL it went to
    target           TEXT NOT NULL,
    attempt          INTEGER NOT NULL CHECK (attempt >= 1),
    status           TEXT NOT NULL CHECK (status IN ('delivered', 'retrying', 'failed', 'skipped')),
    response_code    INTEGER,
    error            TEXT,
    duration_ms      INTEGER,
    next_attempt_at  TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX notification_deliveries_notification_idx ON notification_deliveries (notification_id, id);

-- a notify job delivers one notification on one channel (payload: channel, webhookId) or sends a
-- user's digest (payload: channel 'email', digest, userId)
ALTER TABLE jobs ADD COLUMN notification_id UUID REFERENCES notifications (id) ON DELETE CASCADE;
CREATE INDEX jobs_notification_idx ON jobs (notification_id) WHERE notification_id IS NOT NULL;
-- at most one digest waiting per user
CREATE UNIQUE INDEX jobs_digest_queued_idx ON jobs ((payload ->> 'userId')) WHERE kind = 'notify' AND status = 'queued' AND payload ? 'digest';

-- keys the platform signs its own links with (e.g. e-mail unsubscribe links), made on first use
CREATE TABLE app_secrets (
    name        TEXT PRIMARY KEY,
    value       BYTEA NOT NULL CHECK (length(value) >= 32),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- reading notifications changes the unread count: one event per user a statement touched (read-all
-- marks many rows at once), so live streams can update the count
CREATE FUNCTION bb_notify_unread() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('bb_events', json_build_object('kind', 'unread', 'id', u.user_id, 'userId', u.user_id)::text)
    FROM (SELECT DISTINCT n.user_id FROM changed n JOIN previous p ON p.id = n.id
          WHERE p.read_at IS DISTINCT FROM n.read_at) u;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER notifications_unread AFTER UPDATE ON notifications
    REFERENCING OLD TABLE AS previous NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION bb_notify_unread();
