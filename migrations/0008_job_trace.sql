-- A job remembers the request that enqueued it: its request id (on the worker's log lines) and its
-- W3C traceparent (the job's trace span continues the request's trace).
ALTER TABLE jobs ADD COLUMN request_id TEXT, ADD COLUMN traceparent TEXT;
