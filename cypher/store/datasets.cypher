// The datasets loaded into this graph, one bookkeeping node each (slot: label, the store's
// KgrecDataset label).
MATCH (d:{{label}})
RETURN d.id AS dataset, d.loaded_at AS loaded_at
