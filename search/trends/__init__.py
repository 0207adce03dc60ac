"""Analyst console: hot topics (热点问题), heat index, surge alerts, dashboards and briefings.

Lives inside ``search`` (DESIGN.md puts hot-topic and surge detection there) but owns its own
tables, Alembic branch, worker stage (order 400), views, CLI and jobs, discovered through
``core.plugins`` like a top-level domain.
"""
