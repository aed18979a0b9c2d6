DROP TRIGGER projects_lock_key ON projects;
DROP FUNCTION tenantform_lock_project_key();
ALTER TABLE aws_inventory DROP COLUMN orphan_listed_at;
