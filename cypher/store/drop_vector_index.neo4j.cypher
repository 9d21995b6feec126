// Drop the vector index named `<prop>_<label>` if it exists (slot: index).
DROP INDEX {{index}} IF EXISTS
