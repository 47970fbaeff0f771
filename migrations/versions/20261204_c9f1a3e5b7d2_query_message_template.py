"""a system-written query message keeps its message template and parameters

Revision ID: c9f1a3e5b7d2
Revises: b7e2d4f6a8c1
Create Date: 2026-12-04 18:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'c9f1a3e5b7d2'
down_revision = 'b7e2d4f6a8c1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('query_message', schema=None,
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.add_column(sa.Column('message', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('query_message', schema=None,
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_column('message')
