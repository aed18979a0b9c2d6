-- Notifications waiting to be delivered, one row per event, period and
-- channel. The unique dedup key makes enqueueing idempotent (every replica
-- may derive the same event; only the first insert counts), and delivery
-- claims rows with FOR UPDATE SKIP LOCKED, so a notification is sent by one
-- process, once, and a failed one is retried after restarts.
CREATE TABLE notification_outbox (
    id               bigserial   PRIMARY KEY,
    channel          text        NOT NULL CHECK (channel IN ('webhook', 'email')),
    -- dedup_key names the event and its period, e.g.
    -- "budget/100/2026-11" or "expiring/<project uid>/<expires at>".
    dedup_key        text        NOT NULL,
    kind             text        NOT NULL,
    payload          jsonb       NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    last_error       text        NOT NULL DEFAULT '',
    UNIQUE (channel, dedup_key)
);
CREATE INDEX notification_outbox_pending ON notification_outbox (next_attempt_at) WHERE sent_at IS NULL;

-- The cost ceiling of each project, kept next to the row's other figures
-- so that the metrics scrape reads it without detoasting the whole spec
-- (which holds the tenant's Terraform files) of every project.
ALTER TABLE projects ADD COLUMN max_monthly_cost_usd float8 GENERATED ALWAYS AS (
    CASE WHEN jsonb_typeof(spec->'maxMonthlyCostUSD') = 'number' THEN (spec->'maxMonthlyCostUSD')::float8 END
) STORED;

-- The metrics scrape counts only recently finished runs (the older counts
-- it keeps), so that its cost does not grow with the run history.
CREATE INDEX runs_finished_at ON runs (finished_at);
