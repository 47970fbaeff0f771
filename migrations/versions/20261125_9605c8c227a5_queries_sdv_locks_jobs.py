"""queries and their threads, SDV marks, locks and freezes, background jobs

form_data.locked goes: locks live in data_lock, with who, when, why and their release (no
form was ever locked through the column).

Revision ID: 9605c8c227a5
Revises: e5a9b3c1d7f2
Create Date: 2026-11-25 21:40:39.823244

"""
import sqlalchemy as sa
from alembic import op

from audit import ddl

# revision identifiers, used by Alembic.
revision = '9605c8c227a5'
down_revision = 'e5a9b3c1d7f2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_by_name', sa.String(length=200), nullable=False),
    sa.Column('requested_role', sa.String(length=16), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('result_path', sa.Text(), nullable=True),
    sa.Column('result_name', sa.String(length=200), nullable=True),
    sa.Column('result_sha256', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'], name=op.f('fk_job_requested_by_id_user_account')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_job_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_site_id'), ['site_id'], unique=False)

    op.create_table('data_lock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('subject_id', sa.Integer(), nullable=True),
    sa.Column('event_oid', sa.String(length=64), nullable=True),
    sa.Column('event_repeat', sa.Integer(), nullable=True),
    sa.Column('form_oid', sa.String(length=64), nullable=True),
    sa.Column('form_repeat', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('locked_by_id', sa.Integer(), nullable=True),
    sa.Column('locked_by_name', sa.String(length=200), nullable=False),
    sa.Column('locked_at', sa.DateTime(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('released_at', sa.DateTime(), nullable=True),
    sa.Column('released_by_name', sa.String(length=200), nullable=True),
    sa.Column('release_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['locked_by_id'], ['user_account.id'], name=op.f('fk_data_lock_locked_by_id_user_account')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_data_lock_site_id_site')),
    sa.ForeignKeyConstraint(['subject_id'], ['subject.id'], name=op.f('fk_data_lock_subject_id_subject')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_lock')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('data_lock', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_lock_active'), ['active'], unique=False)
        batch_op.create_index(batch_op.f('ix_data_lock_site_id'), ['site_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_data_lock_subject_id'), ['subject_id'], unique=False)

    op.create_table('query',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_oid', sa.String(length=128), nullable=True),
    sa.Column('origin', sa.String(length=8), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=True),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('closed_value', sa.Text(), nullable=True),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('event_oid', sa.String(length=64), nullable=False),
    sa.Column('event_repeat', sa.Integer(), nullable=False),
    sa.Column('form_oid', sa.String(length=64), nullable=False),
    sa.Column('form_repeat', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['opened_by_id'], ['user_account.id'], name=op.f('fk_query_opened_by_id_user_account')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_query_site_id_site')),
    sa.ForeignKeyConstraint(['subject_id'], ['subject.id'], name=op.f('fk_query_subject_id_subject')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_query')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('query', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_query_site_id'), ['site_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_query_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_query_subject_id'), ['subject_id'], unique=False)

    op.create_table('sdv_mark',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_oid', sa.String(length=128), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('verified_value', sa.Text(), nullable=True),
    sa.Column('verified_by_id', sa.Integer(), nullable=True),
    sa.Column('verified_by_name', sa.String(length=200), nullable=False),
    sa.Column('verified_at', sa.DateTime(), nullable=False),
    sa.Column('changed_at', sa.DateTime(), nullable=True),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('event_oid', sa.String(length=64), nullable=False),
    sa.Column('event_repeat', sa.Integer(), nullable=False),
    sa.Column('form_oid', sa.String(length=64), nullable=False),
    sa.Column('form_repeat', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_sdv_mark_site_id_site')),
    sa.ForeignKeyConstraint(['subject_id'], ['subject.id'], name=op.f('fk_sdv_mark_subject_id_subject')),
    sa.ForeignKeyConstraint(['verified_by_id'], ['user_account.id'], name=op.f('fk_sdv_mark_verified_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sdv_mark')),
    sa.UniqueConstraint('subject_id', 'event_oid', 'event_repeat', 'form_oid', 'form_repeat', 'item_oid', name='uq_sdv_mark_key')
    )
    with op.batch_alter_table('sdv_mark', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sdv_mark_site_id'), ['site_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sdv_mark_subject_id'), ['subject_id'], unique=False)

    op.create_table('query_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('query_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('author_name', sa.String(length=200), nullable=False),
    sa.Column('author_role', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('form_version', sa.Integer(), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_query_message_author_id_user_account')),
    sa.ForeignKeyConstraint(['query_id'], ['query.id'], name=op.f('fk_query_message_query_id_query')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_query_message_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_query_message')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('query_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_query_message_query_id'), ['query_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_query_message_site_id'), ['site_id'], unique=False)

    with op.batch_alter_table('form_data', schema=None) as batch_op:
        batch_op.drop_column('locked')
    ddl.install(op.get_bind())  # batch mode on SQLite may drop triggers


def downgrade():
    with op.batch_alter_table('form_data', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locked', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))

    with op.batch_alter_table('query_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_query_message_site_id'))
        batch_op.drop_index(batch_op.f('ix_query_message_query_id'))

    op.drop_table('query_message')
    with op.batch_alter_table('sdv_mark', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sdv_mark_subject_id'))
        batch_op.drop_index(batch_op.f('ix_sdv_mark_site_id'))

    op.drop_table('sdv_mark')
    with op.batch_alter_table('query', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_query_subject_id'))
        batch_op.drop_index(batch_op.f('ix_query_state'))
        batch_op.drop_index(batch_op.f('ix_query_site_id'))

    op.drop_table('query')
    with op.batch_alter_table('data_lock', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_lock_subject_id'))
        batch_op.drop_index(batch_op.f('ix_data_lock_site_id'))
        batch_op.drop_index(batch_op.f('ix_data_lock_active'))

    op.drop_table('data_lock')
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_site_id'))

    op.drop_table('job')
