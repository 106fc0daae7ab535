-- Paper trading: where each run's state machines start and the last bar they processed (the
-- watermark that makes a tick idempotent), its simulator state between ticks, its fills and
-- per-bar equity (flushed from here into the lake's paper_fills / paper_equity in batches), alert
-- bookkeeping, one queued tick job per run at most, and change events for its SSE stream.

ALTER TABLE paper_trade_runs
    ADD COLUMN origin_time   TIMESTAMPTZ,
    ADD COLUMN trade_from    TIMESTAMPTZ,
    ADD COLUMN last_bar_time TIMESTAMPTZ,
    ADD COLUMN bars_seen     BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN bars_traded   BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN alert_state   JSONB NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN stopped_at    TIMESTAMPTZ,
    ADD COLUMN last_error    TEXT;
COMMENT ON COLUMN paper_trade_runs.origin_time IS 'open time of the first bar its indicators see: startAt, or the first bar of the warm-up';
COMMENT ON COLUMN paper_trade_runs.trade_from IS 'open time from which bars trade (earlier ones only warm the indicators)';
COMMENT ON COLUMN paper_trade_runs.last_bar_time IS 'open time of the last bar processed; a tick processes only later bars';
COMMENT ON COLUMN paper_trade_runs.state IS 'the simulator between ticks (cash, position, pending order) and running performance';
UPDATE paper_trade_runs SET origin_time = created_at, trade_from = created_at;
ALTER TABLE paper_trade_runs
    ALTER COLUMN origin_time SET DEFAULT now(),
    ALTER COLUMN origin_time SET NOT NULL,
    ALTER COLUMN trade_from SET DEFAULT now(),
    ALTER COLUMN trade_from SET NOT NULL;

CREATE TABLE paper_fills (
    run_id      UUID NOT NULL REFERENCES paper_trade_runs (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL CHECK (seq >= 1),
    bar_time    TIMESTAMPTZ NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('buy', 'sell')),
    side        TEXT NOT NULL CHECK (side IN ('long', 'short')),
    price       DOUBLE PRECISION NOT NULL,
    qty         DOUBLE PRECISION NOT NULL,
    fee         DOUBLE PRECISION NOT NULL,
    exit_reason TEXT,
    pnl         DOUBLE PRECISION,
    cash        DOUBLE PRECISION NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- the lake flush that carried the row (NULL: not yet in the lake)
    flush_batch BIGINT,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX paper_fills_flush_idx ON paper_fills (flush_batch);

CREATE TABLE paper_equity (
    run_id      UUID NOT NULL REFERENCES paper_trade_runs (id) ON DELETE CASCADE,
    bar_time    TIMESTAMPTZ NOT NULL,
    equity      DOUBLE PRECISION NOT NULL,
    flush_batch BIGINT,
    PRIMARY KEY (run_id, bar_time)
);
CREATE INDEX paper_equity_flush_idx ON paper_equity (flush_batch);

-- the last batch each outbox table has flushed into the lake (the lake commit records it too, as
-- a Delta application transaction, so a flush cut off between the two is finished, not repeated)
CREATE TABLE lake_flushes (
    name  TEXT PRIMARY KEY,
    batch BIGINT NOT NULL DEFAULT 0
);

ALTER TABLE jobs ADD COLUMN paper_run_id UUID REFERENCES paper_trade_runs (id) ON DELETE CASCADE;
-- one queued tick per run: a tick processes every bar after the watermark, so more would be redundant
CREATE UNIQUE INDEX jobs_paper_tick_queued_idx ON jobs (paper_run_id) WHERE kind = 'paper_tick' AND status = 'queued';

CREATE FUNCTION bb_notify_paper() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('bb_events', json_build_object('kind', 'paper', 'id', NEW.id, 'userId', NEW.user_id)::text);
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER paper_trade_runs_notify AFTER INSERT OR UPDATE ON paper_trade_runs
    FOR EACH ROW EXECUTE FUNCTION bb_notify_paper();
