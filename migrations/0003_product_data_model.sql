-- The product's data model: display names and activity on users; subscriptions as the source of a
-- user's tier; quota windows that record their end and their cap; paper-trading runs with their
-- schedule, alerts and performance; template shares and compliance events as the product designed
-- them; notification channels; the job kinds of the next features. Existing rows migrate.

-- users: a display name (the e-mail's local part unless given) and the last authenticated request
-- (written at most once a minute per user)
ALTER TABLE users
    ADD COLUMN display_name TEXT,
    ADD COLUMN last_active_at TIMESTAMPTZ;
UPDATE users SET display_name = coalesce(nullif(split_part(email, '@', 1), ''), 'user');
ALTER TABLE users
    ALTER COLUMN display_name SET NOT NULL,
    ADD CONSTRAINT users_display_name_check CHECK (length(display_name) BETWEEN 1 AND 100);
COMMENT ON COLUMN users.plan_tier IS 'the tier the token claims: the effective tier for users without a subscription row (see user_plans)';

-- subscriptions: each user's subscription (one row per user); the user's effective tier comes from here
CREATE TABLE subscriptions (
    id                      UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id                 UUID NOT NULL CONSTRAINT subscriptions_user_key UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    plan_code               TEXT NOT NULL REFERENCES subscription_plans (tier),
    status                  TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'past_due', 'canceled')),
    stripe_customer_id      TEXT,
    stripe_subscription_id  TEXT CONSTRAINT subscriptions_stripe_subscription_key UNIQUE,
    renewal_at              TIMESTAMPTZ,
    created_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at              TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_customer_idx ON subscriptions (stripe_customer_id);

-- The tier a user's quotas and features follow: an active (or past-due, in its grace period)
-- subscription's plan; a canceled subscription's user is on free; a user without a subscription
-- row has the tier of their token's claim.
CREATE VIEW user_plans AS
SELECT u.id AS user_id,
       CASE WHEN s.user_id IS NULL THEN u.plan_tier
            WHEN s.status = 'canceled' THEN 'free'
            ELSE s.plan_code END AS tier
FROM users u
LEFT JOIN subscriptions s ON s.user_id = u.id;

-- plan_usage: each window records its end and the cap it opened with; only daily counters live
-- here (paper_trades is a gauge: the user's active and scheduled paper-trading runs)
ALTER TABLE plan_usage
    ADD COLUMN window_end TIMESTAMPTZ,
    ADD COLUMN plan_limit INTEGER;
UPDATE plan_usage pu
SET window_end = pu.window_start + interval '1 day',
    plan_limit = (SELECT (p.quotas ->> pu.metric)::int FROM user_plans up JOIN subscription_plans p ON p.tier = up.tier WHERE up.user_id = pu.user_id);
DELETE FROM plan_usage WHERE metric = 'paper_trades';
ALTER TABLE plan_usage
    ALTER COLUMN window_end SET NOT NULL,
    ADD CONSTRAINT plan_usage_window_check CHECK (window_end > window_start),
    DROP CONSTRAINT plan_usage_metric_check,
    ADD CONSTRAINT plan_usage_metric_check CHECK (metric IN ('backtests', 'template_publishes'));
COMMENT ON COLUMN plan_usage.plan_limit IS 'the cap of the metric when the window opened (NULL: unlimited)';

-- paper_trade_runs: the schedule (market, timeframe, capital, costs, fill policy, params), alert
-- rules, the latest performance, and a run that waits for its first tick is `scheduled`
ALTER TABLE paper_trade_runs
    ADD COLUMN schedule JSONB,
    ADD COLUMN alert_config JSONB NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN performance_snapshot JSONB,
    ADD COLUMN last_execution_at TIMESTAMPTZ;
UPDATE paper_trade_runs
SET schedule = jsonb_build_object('exchange', exchange, 'symbol', symbol, 'timeframe', timeframe, 'capital', 10000,
                                  'feeRate', 0.001, 'slippage', 0, 'fillPolicy', 'next_open', 'params', params);
ALTER TABLE paper_trade_runs
    ALTER COLUMN schedule SET NOT NULL,
    DROP COLUMN exchange,
    DROP COLUMN symbol,
    DROP COLUMN timeframe,
    DROP COLUMN params,
    DROP CONSTRAINT paper_trade_runs_status_check,
    ADD CONSTRAINT paper_trade_runs_status_check CHECK (status IN ('scheduled', 'active', 'paused', 'stopped')),
    ALTER COLUMN status SET DEFAULT 'scheduled';
CREATE INDEX paper_trade_runs_user_idx ON paper_trade_runs (user_id, created_at DESC, id DESC);
CREATE INDEX paper_trade_runs_market_idx ON paper_trade_runs ((schedule ->> 'exchange'), (schedule ->> 'symbol'), (schedule ->> 'timeframe'))
    WHERE status IN ('scheduled', 'active');

-- template_shares: an educator shares one strategy version with a cohort or the public, with
-- metadata (description, tags, disclaimers), a clone count and a review status
ALTER TABLE template_shares RENAME COLUMN shared_by TO educator_id;
ALTER TABLE template_shares
    ADD COLUMN strategy_version_id UUID REFERENCES strategy_versions (id),
    ADD COLUMN audience_scope TEXT,
    ADD COLUMN metadata JSONB NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN clone_count INTEGER NOT NULL DEFAULT 0 CHECK (clone_count >= 0),
    ADD COLUMN status TEXT NOT NULL DEFAULT 'pending_review'
        CHECK (status IN ('pending_review', 'published', 'rejected', 'taken_down')),
    ADD COLUMN updated_at TIMESTAMPTZ NOT NULL DEFAULT now();
-- a share made before reviews existed was live: it shares the strategy's latest version, published
UPDATE template_shares t
SET strategy_version_id = (SELECT v.id FROM strategy_versions v WHERE v.strategy_id = t.strategy_id ORDER BY v.version DESC LIMIT 1),
    audience_scope = CASE WHEN t.cohort_id IS NULL THEN 'public' ELSE 'cohort' END,
    status = 'published';
ALTER TABLE template_shares
    ALTER COLUMN strategy_version_id SET NOT NULL,
    ALTER COLUMN audience_scope SET NOT NULL,
    ADD CONSTRAINT template_shares_audience_check CHECK (audience_scope IN ('cohort', 'public')),
    ADD CONSTRAINT template_shares_cohort_check CHECK ((audience_scope = 'cohort') = (cohort_id IS NOT NULL)),
    DROP COLUMN strategy_id;
CREATE INDEX template_shares_public_idx ON template_shares (status, created_at DESC) WHERE audience_scope = 'public';
CREATE INDEX template_shares_cohort_idx ON template_shares (cohort_id) WHERE cohort_id IS NOT NULL;

-- compliance_events: reviewable events about an entity (strategy, template, cohort, notification)
ALTER TABLE compliance_events RENAME TO compliance_events_legacy;
CREATE TABLE compliance_events (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    entity_type  TEXT NOT NULL CHECK (entity_type IN ('strategy', 'template', 'cohort', 'notification')),
    entity_id    UUID NOT NULL,
    event_type   TEXT NOT NULL CHECK (event_type IN ('disclosure', 'risk_review', 'takedown', 'audit')),
    payload      JSONB NOT NULL DEFAULT '{}'::jsonb,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'approved', 'rejected', 'escalated')),
    created_by   UUID REFERENCES users (id) ON DELETE SET NULL,
    resolved_by  UUID REFERENCES users (id) ON DELETE SET NULL,
    resolved_at  TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX compliance_events_entity_idx ON compliance_events (entity_type, entity_id);
CREATE INDEX compliance_events_open_idx ON compliance_events (created_at) WHERE status IN ('open', 'escalated');
-- earlier rows were audit records whose subject named the entity ('strategy:<uuid>'); those that
-- do move over, any other stays in compliance_events_legacy (dropped when nothing is left in it)
INSERT INTO compliance_events (entity_type, entity_id, event_type, payload, status, created_by, created_at)
SELECT split_part(subject, ':', 1), split_part(subject, ':', 2)::uuid, 'audit',
       details || jsonb_build_object('action', action, 'requestId', request_id), 'approved', user_id, created_at
FROM compliance_events_legacy
WHERE subject ~* '^(strategy|template|cohort|notification):[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
DELETE FROM compliance_events_legacy
WHERE subject ~* '^(strategy|template|cohort|notification):[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM compliance_events_legacy) THEN
        DROP TABLE compliance_events_legacy;
    END IF;
END $$;

-- notifications: the channel a notification goes out on; governance tasks for reviewers
ALTER TABLE notifications
    ADD COLUMN channel TEXT NOT NULL DEFAULT 'in_app' CHECK (channel IN ('in_app', 'email', 'webhook')),
    DROP CONSTRAINT notifications_type_check,
    ADD CONSTRAINT notifications_type_check
        CHECK (type IN ('backtest_complete', 'backtest_failed', 'paper_trade_alert', 'template_shared', 'governance_task', 'system'));

-- jobs: the kinds the next features queue
ALTER TABLE jobs
    DROP CONSTRAINT jobs_kind_check,
    ADD CONSTRAINT jobs_kind_check CHECK (kind IN ('backtest', 'paper_tick', 'notify', 'export'));
