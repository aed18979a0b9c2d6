DROP INDEX IF EXISTS projects_due_unleased;
CREATE INDEX IF NOT EXISTS projects_due_at ON projects (due_at);
DROP INDEX IF EXISTS projects_lease_expires;
DROP INDEX IF EXISTS projects_user_lease;
DROP INDEX IF EXISTS projects_user_due;
