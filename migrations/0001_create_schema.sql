-- The relational schema: what the API mutates transactionally. Time series live in the lake.

CREATE TABLE subscription_plans (
    tier        TEXT PRIMARY KEY CHECK (tier IN ('free', 'premium', 'educator')),
    name        TEXT NOT NULL,
    -- quotas per metric over a daily window, e.g. {"backtests": 3, "paper_trades": 1, "template_publishes": 1}
    quotas      JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

INSERT INTO subscription_plans (tier, name, quotas) VALUES
    ('free', 'Free', '{"backtests": 3, "paper_trades": 1, "template_publishes": 1}'),
    ('premium', 'Premium', '{"backtests": 200, "paper_trades": 20, "template_publishes": 50}'),
    ('educator', 'Educator', '{"backtests": 500, "paper_trades": 50, "template_publishes": 200}');

CREATE TABLE users (
    id          UUID PRIMARY KEY,
    email       TEXT,
    roles       TEXT[] NOT NULL DEFAULT ARRAY['builder']::TEXT[]
                CHECK (roles <@ ARRAY['builder', 'educator', 'admin']::TEXT[]),
    plan_tier   TEXT NOT NULL DEFAULT 'free' REFERENCES subscription_plans (tier),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE plan_usage (
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    metric        TEXT NOT NULL CHECK (metric IN ('backtests', 'paper_trades', 'template_publishes')),
    window_start  TIMESTAMPTZ NOT NULL,
    used          INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0),
    PRIMARY KEY (user_id, metric, window_start)
);

CREATE TABLE strategies (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title           TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    slug            TEXT NOT NULL CONSTRAINT strategies_slug_key UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    visibility      TEXT NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'cohort', 'public')),
    status          TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'archived')),
    tags            TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    latest_version  INTEGER NOT NULL DEFAULT 0 CHECK (latest_version >= 0),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX strategies_owner_idx ON strategies (owner_id, created_at DESC, id DESC);
CREATE INDEX strategies_public_idx ON strategies (visibility, created_at DESC, id DESC);

CREATE TABLE strategy_versions (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    strategy_id  UUID NOT NULL REFERENCES strategies (id) ON DELETE CASCADE,
    version      INTEGER NOT NULL CHECK (version >= 1),
    graph_json   JSONB NOT NULL,
    notes        TEXT,
    created_by   UUID NOT NULL REFERENCES users (id),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT strategy_versions_strategy_version_key UNIQUE (strategy_id, version)
);

CREATE TABLE backtest_runs (
    id                   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id              UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    strategy_version_id  UUID NOT NULL REFERENCES strategy_versions (id),
    status               TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    exchange             TEXT NOT NULL,
    symbol               TEXT NOT NULL,
    timeframe            TEXT NOT NULL,
    range_start          TIMESTAMPTZ NOT NULL,
    range_end            TIMESTAMPTZ NOT NULL CHECK (range_end > range_start),
    initial_capital      DOUBLE PRECISION NOT NULL CHECK (initial_capital > 0),
    fee_rate             DOUBLE PRECISION NOT NULL CHECK (fee_rate >= 0),
    slippage             DOUBLE PRECISION NOT NULL CHECK (slippage >= 0),
    fill_policy          TEXT NOT NULL CHECK (fill_policy IN ('next_open', 'close')),
    params               JSONB NOT NULL DEFAULT '{}'::jsonb,
    metrics              JSONB,
    anomalies            JSONB,
    candles_version      BIGINT,
    error                TEXT,
    progress             DOUBLE PRECISION NOT NULL DEFAULT 0,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at           TIMESTAMPTZ,
    finished_at          TIMESTAMPTZ
);
CREATE INDEX backtest_runs_user_idx ON backtest_runs (user_id, created_at DESC);

CREATE TABLE paper_trade_runs (
    id                   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id              UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    strategy_version_id  UUID NOT NULL REFERENCES strategy_versions (id),
    status               TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'stopped')),
    exchange             TEXT NOT NULL,
    symbol               TEXT NOT NULL,
    timeframe            TEXT NOT NULL,
    params               JSONB NOT NULL DEFAULT '{}'::jsonb,
    state                JSONB,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE notifications (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type        TEXT NOT NULL CHECK (type IN ('backtest_complete', 'backtest_failed', 'paper_trade_alert', 'template_shared', 'system')),
    payload     JSONB NOT NULL DEFAULT '{}'::jsonb,
    read_at     TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX notifications_user_idx ON notifications (user_id, read_at NULLS FIRST, created_at DESC);

CREATE TABLE template_shares (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    strategy_id  UUID NOT NULL REFERENCES strategies (id) ON DELETE CASCADE,
    shared_by    UUID NOT NULL REFERENCES users (id),
    cohort_id    UUID,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE compliance_events (
    id          BIGSERIAL PRIMARY KEY,
    user_id     UUID REFERENCES users (id) ON DELETE SET NULL,
    action      TEXT NOT NULL,
    subject     TEXT,
    details     JSONB NOT NULL DEFAULT '{}'::jsonb,
    request_id  TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE cohorts (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    educator_id  UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE cohort_members (
    cohort_id  UUID NOT NULL REFERENCES cohorts (id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (cohort_id, user_id)
);

ALTER TABLE template_shares ADD CONSTRAINT template_shares_cohort_fkey FOREIGN KEY (cohort_id) REFERENCES cohorts (id) ON DELETE CASCADE;

-- The durable job queue: workers take jobs with FOR UPDATE SKIP LOCKED and hold a lease.
CREATE TABLE jobs (
    id            BIGSERIAL PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('backtest')),
    payload       JSONB NOT NULL,
    status        TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'dead')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    run_after     TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_until   TIMESTAMPTZ,
    worker        TEXT,
    last_error    TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX jobs_ready_idx ON jobs (status, run_after) WHERE status IN ('queued', 'running');
