"""Search: the backend interface, embedded and Elasticsearch backends, queries, trends."""
