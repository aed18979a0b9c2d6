DROP TRIGGER IF EXISTS project_tombstones_watch_insert ON project_tombstones;
DROP TRIGGER IF EXISTS projects_watch_insert ON projects;
DROP TRIGGER IF EXISTS projects_watch_version ON projects;
DROP FUNCTION IF EXISTS tenantform_watch_notify();
DROP FUNCTION IF EXISTS tenantform_watch_version();
ALTER TABLE project_tombstones DROP COLUMN IF EXISTS watch_version;
ALTER TABLE projects DROP COLUMN IF EXISTS watch_version;
DROP SEQUENCE IF EXISTS project_watch_version;
