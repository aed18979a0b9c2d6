-- The orphan sweep deletes only what is provably nobody's (store/orphans.go).

-- orphan_listed_at is the listing time (last_seen) at which a sweep first
-- found the resource without a project. A sweep deletes it only once a
-- listing at least ORPHAN_GRACE_PERIOD later still shows it orphaned: two
-- listings, both database times. A changed tag set starts the wait again
-- (ReplaceInventory), and so does a sweep that finds the resource owned.
ALTER TABLE aws_inventory ADD COLUMN orphan_listed_at timestamptz;

-- A project row that does not exist cannot be locked, so creating one
-- takes a shared transaction-scoped advisory lock on its key, and the
-- sweep an exclusive one around "no such project" and the deletion: a PUT
-- that creates the project waits until the deletion is over, and a sweep
-- that comes second sees the committed row. Every INSERT takes it, whatever
-- path it comes from, hence a trigger. The key is the one
-- Store.SweepOrphan locks (projectLockSQL).
CREATE FUNCTION tenantform_lock_project_key() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(
        hashtextextended('tenantform/project/' || NEW.user_id || '/' || NEW.project_id, 0));
    RETURN NEW;
END;
$$;

CREATE TRIGGER projects_lock_key BEFORE INSERT ON projects
    FOR EACH ROW EXECUTE FUNCTION tenantform_lock_project_key();
