-- Speculative plans (POST .../projects/{id}/plan): a plan of a spec that is
-- never applied, to preview what the spec would do. It is a run of kind
-- 'speculative' (operation 'plan'), queued by the API and taken by a
-- reconciler worker like a project: leased on the database's clock, under
-- the same per-user worker cap. It never touches the project row.
ALTER TABLE runs ADD COLUMN kind text NOT NULL DEFAULT 'reconcile' CHECK (kind IN ('reconcile', 'speculative'));
ALTER TABLE runs DROP CONSTRAINT runs_outcome_check;
ALTER TABLE runs ADD CONSTRAINT runs_outcome_check CHECK (outcome IN ('queued', 'running', 'succeeded', 'failed', 'interrupted'));
-- The spec the plan previews (the project's own spec is left alone).
ALTER TABLE runs ADD COLUMN spec jsonb;
-- What the preview found: the change of every address and the admission
-- and policy verdicts.
ALTER TABLE runs ADD COLUMN speculative jsonb;
-- The lease of the worker planning it, and how many workers took it (a
-- plan that keeps killing its reconciler is not retried for ever).
ALTER TABLE runs ADD COLUMN lease_owner text;
ALTER TABLE runs ADD COLUMN lease_token uuid;
ALTER TABLE runs ADD COLUMN lease_expires_at timestamptz;
ALTER TABLE runs ADD COLUMN attempts integer NOT NULL DEFAULT 0;
-- The open speculative plans, few at any time: claiming, the per-user
-- worker count and the per-user queue limit read only these.
CREATE INDEX runs_speculative_open ON runs (user_id, id) WHERE kind = 'speculative' AND finished_at IS NULL;
