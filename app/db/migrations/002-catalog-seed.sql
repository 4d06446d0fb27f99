-- Deterministic seed (no random()): every clone, test and bench run sees the same catalogue.
-- 24 categories, 5,000 products (ids 1..5000), 20 reviews per product (100,000 rows).
INSERT INTO categories (name)
SELECT 'Category ' || lpad(n::text, 2, '0') FROM generate_series(1, 24) AS n;

INSERT INTO products (category_id, name, price)
SELECT 1 + (n % 24), 'Product ' || n, round((1 + (n * 7919) % 50000 / 100.0)::numeric, 2)
FROM generate_series(1, 5000) AS n;

INSERT INTO reviews (product_id, rating)
SELECT p, 1 + ((p * 31 + r * 17) % 5)
FROM generate_series(1, 5000) AS p, generate_series(1, 20) AS r;

ANALYZE categories;
ANALYZE products;
ANALYZE reviews;
