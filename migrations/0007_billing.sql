-- Billing through Stripe: each webhook event kept once (a replay changes nothing) with what was
-- done with it, and on the subscription the Stripe price it is on and the time of the last event
-- applied to it (an older event arriving late does not roll the state back).

CREATE TABLE stripe_events (
    id           TEXT PRIMARY KEY,
    type         TEXT NOT NULL,
    created      TIMESTAMPTZ NOT NULL,
    livemode     BOOLEAN NOT NULL DEFAULT false,
    payload      JSONB NOT NULL,
    user_id      UUID REFERENCES users (id) ON DELETE SET NULL,
    -- applied | stale (older than the state it would change) | unmatched (no user) | ignored (a type not handled)
    outcome      TEXT NOT NULL CHECK (outcome IN ('applied', 'stale', 'unmatched', 'ignored')),
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX stripe_events_user_idx ON stripe_events (user_id, created);

ALTER TABLE subscriptions
    ADD COLUMN stripe_price_id TEXT,
    ADD COLUMN stripe_state_at TIMESTAMPTZ;
