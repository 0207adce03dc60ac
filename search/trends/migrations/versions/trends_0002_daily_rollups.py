"""trends: daily roll-ups of the dashboard (trend_daily, trend_place_daily), back-filled; indexes for topics and risk

Revision ID: trends_0002
Revises: trends_0001
Create Date: 2026-11-24 09:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "trends_0002"
down_revision = "trends_0001"
branch_labels = None
depends_on = None

# Frozen here on purpose (not imported from search.trends.summary): a migration keeps meaning what it meant.
BACKFILL = [
    "INSERT INTO trend_daily (day, source, label, sentiment, documents, risk)"
    " SELECT day, source, COALESCE(label, ''), COALESCE(sentiment, ''), COUNT(*), SUM(CASE WHEN risk THEN 1 ELSE 0 END)"
    " FROM trend_members GROUP BY day, source, COALESCE(label, ''), COALESCE(sentiment, '')",
    "INSERT INTO trend_place_daily (place, day, source, label, sentiment, documents, risk)"
    " SELECT p.place, m.day, m.source, COALESCE(m.label, ''), COALESCE(m.sentiment, ''), COUNT(*),"
    " SUM(CASE WHEN m.risk THEN 1 ELSE 0 END)"
    " FROM trend_member_places p JOIN trend_members m ON m.document_id = p.document_id"
    " GROUP BY p.place, m.day, m.source, COALESCE(m.label, ''), COALESCE(m.sentiment, '')",
]


def upgrade() -> None:
    op.create_table(
        "trend_daily",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("sentiment", sa.String(length=16), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.Column("risk", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "source", "label", "sentiment", name=op.f("pk_trend_daily")),
    )
    op.create_table(
        "trend_place_daily",
        sa.Column("place", sa.String(length=100), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("sentiment", sa.String(length=16), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.Column("risk", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("place", "day", "source", "label", "sentiment", name=op.f("pk_trend_place_daily")),
    )
    for statement in BACKFILL:
        op.execute(sa.text(statement))
    op.create_index("ix_trend_place_daily_day_place", "trend_place_daily", ["day", "place", "source", "documents"],
                    unique=False)
    # sparklines of the top topics (topic_id IN … by day), distinct topics of a period, the risk queue
    op.create_index("ix_trend_members_topic_day", "trend_members", ["topic_id", "day"], unique=False)
    op.create_index("ix_trend_members_day_topic", "trend_members", ["day", "topic_id"], unique=False)
    op.create_index("ix_trend_members_risk_at", "trend_members", ["risk", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_trend_members_risk_at", table_name="trend_members")
    op.drop_index("ix_trend_members_day_topic", table_name="trend_members")
    op.drop_index("ix_trend_members_topic_day", table_name="trend_members")
    op.drop_index("ix_trend_place_daily_day_place", table_name="trend_place_daily")
    op.drop_table("trend_place_daily")
    op.drop_table("trend_daily")
