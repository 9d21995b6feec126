"""The Cypher library: every statement the project runs, one ``.cypher`` file per query.

Analysts' questions live at the top of this folder; statements the store itself runs (schema,
writes, exports) live in ``store/``. A file ``NAME.DIALECT.cypher`` (``falkordb`` or ``neo4j``)
replaces ``NAME.cypher`` on that backend only.
"""
