-- Unit prices fetched from the AWS Price List API (GetProducts), one row
-- per region and cost dimension (package cost's Dimension names, such as
-- "dynamodb.rcu-hours"). Every replica prices plans from these rows; a
-- dimension without a row is priced from the built-in table.
CREATE TABLE aws_prices (
    region     text             NOT NULL,
    dimension  text             NOT NULL,
    -- usd is per single unit (per request, per GB-month, per hour).
    usd        double precision NOT NULL CHECK (usd >= 0),
    -- usage_type is the price list's usagetype the figure came from, so a
    -- surprising price can be traced to its product.
    usage_type text             NOT NULL,
    fetched_at timestamptz      NOT NULL,
    PRIMARY KEY (region, dimension)
);

-- Month-to-date actual cost per Project tag from Cost Explorer
-- (GetCostAndUsage grouped by the Project tag): one call for every
-- project. month is the first day of the UTC calendar month.
CREATE TABLE project_actual_costs (
    project_tag text             NOT NULL,
    month       date             NOT NULL,
    usd         double precision NOT NULL,
    updated_at  timestamptz      NOT NULL,
    PRIMARY KEY (project_tag, month)
);

-- When each billing refresh ('prices', 'actual-costs') last succeeded, by
-- the database's clock: a replica skips a refresh another one just did.
CREATE TABLE billing_refreshes (
    kind         text        PRIMARY KEY,
    refreshed_at timestamptz NOT NULL
);
