"""The inventory domain: products, stock movements and their rules; no I/O here."""
