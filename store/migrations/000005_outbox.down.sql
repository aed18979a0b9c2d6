DROP INDEX runs_finished_at;
ALTER TABLE projects DROP COLUMN max_monthly_cost_usd;
DROP TABLE notification_outbox;
