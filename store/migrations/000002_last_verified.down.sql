ALTER TABLE projects DROP COLUMN IF EXISTS last_verified_at;
