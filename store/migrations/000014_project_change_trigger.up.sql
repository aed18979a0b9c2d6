-- One trigger per write of a project instead of two or three, and no
-- copy of the whole row when the write bumps the revision (every client
-- write does: PUT, extend, delete, approve, and the reconciler's wake-up).
--
-- Until now an UPDATE ran two triggers: projects_watch_version (BEFORE,
-- PL/pgSQL: copy OLD and NEW into two row variables, blank what no
-- watcher sees, compare them, take the next watch version and NOTIFY
-- tenantform_project_changes) and projects_notify (AFTER ... UPDATE OF
-- revision: a queued after-trigger event and a second PL/pgSQL call to
-- NOTIFY tenantform_projects). An INSERT ran projects_notify and
-- projects_watch_insert, two after-trigger events.
--
-- What each channel hears is unchanged:
--   * tenantform_projects ("user_id/project_id", wakes the reconcilers)
--     on every INSERT and every UPDATE that changes the revision. The old
--     trigger fired on UPDATE OF revision, i.e. when the SET list names
--     it; every writer that names it sets revision = revision + 1.
--   * tenantform_project_changes ('', wakes the watch streams) with a new
--     watch_version on every INSERT and every UPDATE that changes what a
--     watcher sees: everything but the lease, the schedule and the
--     generated column. The revision is a column a watcher sees, so a
--     changed revision is such a change without comparing the rest.
CREATE FUNCTION tenantform_project_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    o projects;
    n projects;
BEGIN
    IF NEW.revision IS DISTINCT FROM OLD.revision THEN
        PERFORM pg_notify('tenantform_projects', NEW.user_id || '/' || NEW.project_id);
    ELSE
        -- What no watcher sees: leases, scheduling, and the generated
        -- column (not yet computed in NEW here).
        o := OLD;
        n := NEW;
        o.lease_owner := n.lease_owner;
        o.lease_expires_at := n.lease_expires_at;
        o.lease_token := n.lease_token;
        o.due_at := n.due_at;
        o.max_monthly_cost_usd := n.max_monthly_cost_usd;
        o.watch_version := n.watch_version;
        IF o IS NOT DISTINCT FROM n THEN
            RETURN NEW;
        END IF;
    END IF;
    NEW.watch_version := nextval('project_watch_version');
    PERFORM pg_notify('tenantform_project_changes', '');
    RETURN NEW;
END
$$;

CREATE FUNCTION tenantform_project_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tenantform_projects', NEW.user_id || '/' || NEW.project_id);
    PERFORM pg_notify('tenantform_project_changes', '');
    RETURN NULL;
END
$$;

DROP TRIGGER projects_watch_version ON projects;
DROP TRIGGER projects_notify ON projects;
DROP TRIGGER projects_watch_insert ON projects;
DROP FUNCTION tenantform_watch_version();
DROP FUNCTION tenantform_notify_project();

CREATE TRIGGER projects_changed
    BEFORE UPDATE ON projects
    FOR EACH ROW EXECUTE FUNCTION tenantform_project_changed();
CREATE TRIGGER projects_inserted
    AFTER INSERT ON projects
    FOR EACH ROW EXECUTE FUNCTION tenantform_project_inserted();
