-- The last snapshot of the tagged AWS inventory: every resource carrying
-- ManagedBy=chart-app-platform, as the Resource Groups Tagging API listed
-- it. One listing per region serves every project, and every replica and
-- the API read the same picture from here.
CREATE TABLE aws_inventory (
    arn           text        PRIMARY KEY,
    -- resource_type is "service:type" from the ARN (s3:bucket,
    -- dynamodb:table, lambda:function, ...).
    resource_type text        NOT NULL,
    region        text        NOT NULL,
    tags          jsonb       NOT NULL,
    -- first_seen and last_seen are database times of the listings that
    -- first and last found the resource.
    first_seen    timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL
);
CREATE INDEX aws_inventory_region ON aws_inventory (region);
CREATE INDEX aws_inventory_project ON aws_inventory ((tags->>'Project'));

-- When each region was last listed completely. A comparison with a
-- project's state is only meaningful with a listing newer than the
-- project's last terraform run.
CREATE TABLE aws_inventory_listings (
    region    text        PRIMARY KEY,
    listed_at timestamptz NOT NULL
);
