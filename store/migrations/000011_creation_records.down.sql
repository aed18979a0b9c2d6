DROP TABLE creation_records;
