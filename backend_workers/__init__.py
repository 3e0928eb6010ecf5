"""Consumer processes: the notifier and the analytics worker, on a shared consume loop."""
