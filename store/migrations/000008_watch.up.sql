-- The watch API (GET ...?watch=true) streams project changes. Every change
-- a client can see (spec, status, deletion; not lease renewals or
-- scheduling) takes the next value of one sequence, so a stream resumes
-- from the last version it delivered, and the API server finds what
-- changed with one indexed query whatever the number of streams.
CREATE SEQUENCE project_watch_version;
ALTER TABLE projects ADD COLUMN watch_version bigint NOT NULL DEFAULT nextval('project_watch_version');
ALTER TABLE project_tombstones ADD COLUMN watch_version bigint NOT NULL DEFAULT nextval('project_watch_version');
CREATE INDEX projects_watch_version ON projects (watch_version);
CREATE INDEX project_tombstones_watch_version ON project_tombstones (watch_version);

CREATE FUNCTION tenantform_watch_version() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    o projects := OLD;
    n projects := NEW;
BEGIN
    -- What no watcher sees: leases, scheduling, and the generated column
    -- (not yet computed in NEW here).
    o.lease_owner := n.lease_owner;
    o.lease_expires_at := n.lease_expires_at;
    o.lease_token := n.lease_token;
    o.due_at := n.due_at;
    o.max_monthly_cost_usd := n.max_monthly_cost_usd;
    o.watch_version := n.watch_version;
    IF o IS DISTINCT FROM n THEN
        NEW.watch_version := nextval('project_watch_version');
        PERFORM pg_notify('tenantform_project_changes', '');
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER projects_watch_version
    BEFORE UPDATE ON projects
    FOR EACH ROW EXECUTE FUNCTION tenantform_watch_version();

CREATE FUNCTION tenantform_watch_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tenantform_project_changes', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER projects_watch_insert
    AFTER INSERT ON projects
    FOR EACH ROW EXECUTE FUNCTION tenantform_watch_notify();
CREATE TRIGGER project_tombstones_watch_insert
    AFTER INSERT ON project_tombstones
    FOR EACH ROW EXECUTE FUNCTION tenantform_watch_notify();
