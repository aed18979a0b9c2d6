-- The state lock every apply, destroy and state drop of a project holds.
-- Terraform's pg backend locks a workspace with a session advisory lock,
-- which a database restart or failover releases at the very moment the
-- holder's lease renewals fail; this row survives both. Its holder is the
-- lease token of the pass running the operation; it expires on the
-- database's clock, renewed with the lease, and a new holder may take it
-- only once it has expired.
CREATE TABLE project_locks (
    user_id     text        NOT NULL,
    project_id  text        NOT NULL,
    holder      uuid        NOT NULL,
    owner       text        NOT NULL,
    operation   text        NOT NULL,
    acquired_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (user_id, project_id)
);

-- A run cut short because its reconciler could not renew its lease in time
-- (terraform was interrupted before another reconciler could take over).
ALTER TABLE runs DROP CONSTRAINT runs_outcome_check;
ALTER TABLE runs ADD CONSTRAINT runs_outcome_check CHECK (outcome IN ('running', 'succeeded', 'failed', 'interrupted'));
