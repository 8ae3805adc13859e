"""Storage: engine, schema, transactions, bulk writes, ingestion and derived-row bookkeeping."""
