"""second factor (TOTP) of an account, and the two-administrator reset request

Revision ID: a1c4e7f2b9d3
Revises: 9605c8c227a5
Create Date: 2026-11-26 09:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'a1c4e7f2b9d3'
down_revision = '9605c8c227a5'
branch_labels = None
depends_on = None


def upgrade():
    # SQLite rebuilds the table for the foreign key: keep ids never reused (AUTOINCREMENT)
    with op.batch_alter_table('user_account', schema=None,
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('totp_enrolled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('totp_pending_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('totp_reset_requested_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('totp_reset_requested_at', sa.DateTime(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_user_account_totp_reset_requested_by_id_user_account'),
            'user_account', ['totp_reset_requested_by_id'], ['id'])


def downgrade():
    with op.batch_alter_table('user_account', schema=None,
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_user_account_totp_reset_requested_by_id_user_account'),
            type_='foreignkey')
        for column in ('totp_reset_requested_at', 'totp_reset_requested_by_id',
                       'totp_pending_secret', 'totp_last_step', 'totp_enrolled_at',
                       'totp_secret'):
            batch_op.drop_column(column)
