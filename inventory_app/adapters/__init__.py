"""Adapters: one module per external system (PostgreSQL, Kafka, DynamoDB/S3)."""
