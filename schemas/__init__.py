"""Versioned JSON Schemas and AsyncAPI contract for inventory events."""
