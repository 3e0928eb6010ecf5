"""Native local stack: PostgreSQL, Kafka (KRaft) and the DynamoDB/S3 API server as local processes."""
