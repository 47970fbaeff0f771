"""access log: views of identifying data and refused requests (append-only)

Revision ID: e5a9b3c1d7f2
Revises: d41c7a2e9f10
Create Date: 2026-11-25 20:30:00

"""
import sqlalchemy as sa
from alembic import op

from audit import ddl

# revision identifiers, used by Alembic.
revision = 'e5a9b3c1d7f2'
down_revision = 'd41c7a2e9f10'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('access_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ts', sa.DateTime(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('path', sa.String(length=512), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('items', sa.Text(), nullable=True),
    sa.Column('request_id', sa.String(length=36), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_log'))
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_log_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_ts'), ['ts'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_user_id'), ['user_id'], unique=False)
    ddl.install(op.get_bind())


def downgrade():
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_log_user_id'))
        batch_op.drop_index(batch_op.f('ix_access_log_ts'))
        batch_op.drop_index(batch_op.f('ix_access_log_kind'))
    op.drop_table('access_log')
