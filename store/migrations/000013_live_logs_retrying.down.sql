UPDATE projects SET phase = 'Failed' WHERE phase = 'Retrying';
DROP TRIGGER IF EXISTS run_finished ON runs;
DROP TABLE IF EXISTS run_log_chunks;
DROP FUNCTION IF EXISTS notify_run_log();
