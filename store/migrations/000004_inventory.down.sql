DROP TABLE aws_inventory_listings;
DROP TABLE aws_inventory;
