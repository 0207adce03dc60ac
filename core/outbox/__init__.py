"""The outbox: a row per document to process, and the workers that run the registered stages."""
