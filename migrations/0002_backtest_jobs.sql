-- Backtest jobs end to end: sweep results and progress on the run, the job of each run, and
-- change events (LISTEN bb_events) that the API turns into Server-Sent Events.

ALTER TABLE backtest_runs
    ADD COLUMN combinations    INTEGER NOT NULL DEFAULT 1 CHECK (combinations >= 1),
    -- sweeps: [{"combo": k, "params": {...}, "metrics": {...}}, ...]; `metrics` holds the best one's
    ADD COLUMN combo_metrics   JSONB,
    ADD COLUMN best_combo      INTEGER,
    -- {"phase", "barsProcessed", "barsTotal", "combosDone", "combosTotal"}
    ADD COLUMN progress_detail JSONB,
    ADD COLUMN attempts        INTEGER NOT NULL DEFAULT 0;
CREATE INDEX backtest_runs_version_idx ON backtest_runs (strategy_version_id, created_at DESC);

ALTER TABLE jobs ADD COLUMN run_id UUID REFERENCES backtest_runs (id) ON DELETE CASCADE;
CREATE UNIQUE INDEX jobs_run_idx ON jobs (run_id);

-- notifications of a user, unread first then newest (keyset pagination)
CREATE INDEX notifications_user_unread_idx ON notifications (user_id, (read_at IS NULL) DESC, created_at DESC, id DESC);

CREATE FUNCTION bb_notify_run() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('bb_events', json_build_object(
        'kind', 'run', 'id', NEW.id, 'userId', NEW.user_id, 'status', NEW.status, 'progress', NEW.progress)::text);
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER backtest_runs_notify AFTER INSERT OR UPDATE ON backtest_runs
    FOR EACH ROW EXECUTE FUNCTION bb_notify_run();

CREATE FUNCTION bb_notify_notification() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('bb_events', json_build_object('kind', 'notification', 'id', NEW.id, 'userId', NEW.user_id)::text);
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER notifications_notify AFTER INSERT ON notifications
    FOR EACH ROW EXECUTE FUNCTION bb_notify_notification();
