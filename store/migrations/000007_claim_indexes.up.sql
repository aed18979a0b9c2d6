-- Claiming probes, per user, the earliest due project and the live leases
-- (store/claim.go). These indexes keep each probe independent of how many
-- projects any one user has.
CREATE INDEX projects_user_due ON projects (user_id, due_at);
CREATE INDEX projects_user_lease ON projects (user_id, lease_expires_at) WHERE lease_expires_at IS NOT NULL;
CREATE INDEX projects_lease_expires ON projects (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
-- A plain index on due_at tempted the planner to walk every due row of
-- the busiest user while looking for another user's first due project
-- (its statistics assume users are alike). NextDueAt needs the earliest
-- due project without a lease, which this partial index answers alone.
DROP INDEX projects_due_at;
CREATE INDEX projects_due_unleased ON projects (due_at) WHERE lease_expires_at IS NULL;
