"""The analytics worker: aggregates of the product events in PostgreSQL."""
