-- A running run's output, readable while it runs (GET …/runs/{n}/log,
-- ?watch=true follows it): the reconciler appends the redacted lines in
-- chunks, each at its byte offset in the run's log, so a follower resumes
-- from the offset it has. Chunks go with their run.
CREATE TABLE run_log_chunks (
    run_id      bigint      NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    byte_offset bigint      NOT NULL CHECK (byte_offset >= 0),
    text        text        NOT NULL,
    PRIMARY KEY (run_id, byte_offset)
);

-- Followers wake on a notification naming the run (its row id): a chunk
-- appended, or the run finished (by FinishRun or AbandonRun alike).
CREATE FUNCTION notify_run_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'runs' THEN
        PERFORM pg_notify('tenantform_run_logs', NEW.id::text);
    ELSE
        PERFORM pg_notify('tenantform_run_logs', NEW.run_id::text);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER run_log_chunk_appended AFTER INSERT ON run_log_chunks
    FOR EACH ROW EXECUTE FUNCTION notify_run_log();
CREATE TRIGGER run_finished AFTER UPDATE OF finished_at ON runs
    FOR EACH ROW WHEN (OLD.finished_at IS NULL AND NEW.finished_at IS NOT NULL)
    EXECUTE FUNCTION notify_run_log();

-- A failure that will be retried has its own phase, Retrying, so that it
-- no longer reads like a terminal Failed: rows a transient failure left in
-- Failed (they have a next attempt) move there.
UPDATE projects SET phase = 'Retrying' WHERE phase = 'Failed' AND next_attempt_at IS NOT NULL;
