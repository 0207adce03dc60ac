"""crawler tables

Revision ID: crawlers_0001
Revises:
Create Date: 2026-11-23 11:10:23.673106
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import core.database


revision = 'crawlers_0001'
down_revision = None
branch_labels = ('crawlers',)
depends_on = 'core_0001'


def upgrade() -> None:
    op.create_table('crawl_locks',
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('run_id', sa.BigInteger(), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('acquired_at', core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', core.database.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('site', name=op.f('pk_crawl_locks'))
    )
    op.create_table('crawl_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('list_pages', sa.Integer(), nullable=False),
    sa.Column('entries_found', sa.Integer(), nullable=False),
    sa.Column('items_new', sa.Integer(), nullable=False),
    sa.Column('items_updated', sa.Integer(), nullable=False),
    sa.Column('items_unchanged', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('stats', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crawl_runs'))
    )
    with op.batch_alter_table('crawl_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crawl_runs_site'), ['site'], unique=False)
        batch_op.create_index('ix_crawl_runs_site_started', ['site', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_crawl_runs_status'), ['status'], unique=False)

    op.create_table('crawl_sites',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('config_path', sa.String(length=1000), nullable=False),
    sa.Column('config_digest', sa.String(length=64), nullable=False),
    sa.Column('schedule', sa.String(length=100), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('start_url', sa.String(length=2000), nullable=False),
    sa.Column('registered_at', core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', core.database.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_crawl_sites'))
    )
    op.create_table('crawl_errors',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('at', core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('field', sa.String(length=64), nullable=True),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['crawl_runs.id'], name=op.f('fk_crawl_errors_run_id_crawl_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crawl_errors'))
    )
    with op.batch_alter_table('crawl_errors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crawl_errors_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_crawl_errors_site'), ['site'], unique=False)

    op.create_table('crawl_seen_urls',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('url_key', sa.String(length=40), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('document_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('has_reply', sa.Boolean(), nullable=False),
    sa.Column('first_seen_at', core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_fetched_at', core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('fetches', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_crawl_seen_urls_document_id_documents'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crawl_seen_urls')),
    sa.UniqueConstraint('site', 'url_key', name='uq_crawl_seen_urls_site_url_key')
    )
    with op.batch_alter_table('crawl_seen_urls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crawl_seen_urls_document_id'), ['document_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('crawl_seen_urls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crawl_seen_urls_document_id'))

    op.drop_table('crawl_seen_urls')
    with op.batch_alter_table('crawl_errors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crawl_errors_site'))
        batch_op.drop_index(batch_op.f('ix_crawl_errors_run_id'))

    op.drop_table('crawl_errors')
    op.drop_table('crawl_sites')
    with op.batch_alter_table('crawl_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crawl_runs_status'))
        batch_op.drop_index('ix_crawl_runs_site_started')
        batch_op.drop_index(batch_op.f('ix_crawl_runs_site'))

    op.drop_table('crawl_runs')
    op.drop_table('crawl_locks')
