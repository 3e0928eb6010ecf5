"""The notifier: event log in DynamoDB, archive in S3, notices on the notifications topic."""
