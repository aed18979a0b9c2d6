DROP TRIGGER IF EXISTS projects_notify ON projects;
DROP FUNCTION IF EXISTS tenantform_notify_project();
DROP TABLE IF EXISTS user_quotas;
DROP TABLE IF EXISTS runs;
DROP TABLE IF EXISTS projects;
