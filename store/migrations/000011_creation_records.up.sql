-- What an apply is about to create, written before terraform starts: a
-- provider killed between creating a resource and terraform recording it
-- in the state leaves that resource unknown to terraform, and where the
-- type is tagged by a second call (S3 buckets) untagged too. The recovery
-- pass finds such a resource by the planned name (or the planned prefix
-- and a creation time inside the run's window) and adopts or deletes it.
-- A plan kept for approval records its creates too (copied to the apply
-- run that applies it). Rows go when an apply of the project succeeds.
CREATE TABLE creation_records (
    id            bigserial   PRIMARY KEY,
    run_id        bigint      NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    project_uid   uuid        NOT NULL,
    address       text        NOT NULL,
    resource_type text        NOT NULL,
    -- name is the planned name; name_prefix the prefix of a generated
    -- one (bucket_prefix, name_prefix, or the provider's "terraform-").
    -- Both empty: nothing to find the resource by but its tags.
    name          text        NOT NULL DEFAULT '',
    name_prefix   text        NOT NULL DEFAULT '',
    region        text        NOT NULL
);
CREATE INDEX creation_records_project ON creation_records (project_uid);
CREATE INDEX creation_records_run ON creation_records (run_id);
-- Another project's pending record of the same name or prefix makes a
-- find ambiguous: it is left alone.
CREATE INDEX creation_records_type ON creation_records (resource_type);
