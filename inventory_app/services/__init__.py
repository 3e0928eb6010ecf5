"""Use cases, each run in one unit of work that writes the change and its outbox events together."""
