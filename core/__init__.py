"""Core: settings, database, models shared by every domain, the outbox worker, audit log and calendar."""
