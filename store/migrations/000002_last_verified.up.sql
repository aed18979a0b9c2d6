-- When a plan last confirmed that the project's resources match its state
-- and spec: the reconciler's slow drift check re-plans after
-- DRIFT_CHECK_INTERVAL.
ALTER TABLE projects ADD COLUMN last_verified_at timestamptz;
UPDATE projects SET last_verified_at = last_applied_at;
