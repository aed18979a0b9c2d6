DROP TRIGGER IF EXISTS projects_changed ON projects;
DROP TRIGGER IF EXISTS projects_inserted ON projects;
DROP FUNCTION IF EXISTS tenantform_project_changed();
DROP FUNCTION IF EXISTS tenantform_project_inserted();

CREATE FUNCTION tenantform_notify_project() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tenantform_projects', NEW.user_id || '/' || NEW.project_id);
    RETURN NULL;
END
$$;
CREATE TRIGGER projects_notify
    AFTER INSERT OR UPDATE OF revision ON projects
    FOR EACH ROW EXECUTE FUNCTION tenantform_notify_project();

CREATE FUNCTION tenantform_watch_version() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    o projects := OLD;
    n projects := NEW;
BEGIN
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

CREATE TRIGGER projects_watch_insert
    AFTER INSERT ON projects
    FOR EACH ROW EXECUTE FUNCTION tenantform_watch_notify();
