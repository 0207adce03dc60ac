"""partial index on estimated clocks; no index on the clock state

Revision ID: cases_0002
Revises: cases_0001
Create Date: 2026-11-23 12:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "cases_0002"
down_revision = "cases_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Indexes on a boolean and on a four-valued state are useless once the planner has statistics
    # (almost every row is "not estimated", most are "running") and lured it into scanning a million
    # rows: index only the estimated clocks, which the sweep counts every minute.
    with op.batch_alter_table("cases_clocks", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_clocks_estimated")
        batch_op.drop_index("ix_cases_clocks_state")
    op.create_index("ix_cases_clocks_estimated_due", "cases_clocks", ["due_at"], unique=False,
                    sqlite_where=sa.text("estimated = 1"), postgresql_where=sa.text("estimated = true"))


def downgrade() -> None:
    op.drop_index("ix_cases_clocks_estimated_due", table_name="cases_clocks")
    with op.batch_alter_table("cases_clocks", schema=None) as batch_op:
        batch_op.create_index("ix_cases_clocks_estimated", ["estimated"], unique=False)
        batch_op.create_index("ix_cases_clocks_state", ["state"], unique=False)
