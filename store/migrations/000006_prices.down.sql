DROP TABLE billing_refreshes;
DROP TABLE project_actual_costs;
DROP TABLE aws_prices;
