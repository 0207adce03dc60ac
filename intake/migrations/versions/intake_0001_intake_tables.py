"""intake tables

Revision ID: intake_0001
Revises:
Create Date: 2026-11-23 11:07:08.899504
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'intake_0001'
down_revision = None
branch_labels = ('intake',)
depends_on = 'core_0001'


def upgrade() -> None:
    op.create_table(
        'tracking_counters',
        sa.Column('day', sa.String(length=8), nullable=False),
        sa.Column('value', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('day', name=op.f('pk_tracking_counters')),
    )


def downgrade() -> None:
    op.drop_table('tracking_counters')
