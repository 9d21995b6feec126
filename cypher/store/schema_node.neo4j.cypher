// Uniqueness constraint (and its index) on the key of one label, applied before loading.
CREATE CONSTRAINT IF NOT EXISTS FOR (n:{{label}}) REQUIRE n.id IS UNIQUE
