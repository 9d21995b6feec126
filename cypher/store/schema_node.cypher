// Index on the key of one label, applied before loading (slot: label).
CREATE INDEX FOR (n:{{label}}) ON (n.id)
