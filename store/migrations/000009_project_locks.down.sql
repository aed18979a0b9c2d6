UPDATE runs SET outcome = 'failed' WHERE outcome = 'interrupted';
ALTER TABLE runs DROP CONSTRAINT runs_outcome_check;
ALTER TABLE runs ADD CONSTRAINT runs_outcome_check CHECK (outcome IN ('running', 'succeeded', 'failed'));
DROP TABLE project_locks;
