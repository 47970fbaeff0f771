"""audit: entries only at the head of the chain; triggers enabled always

Revision ID: b7d3e1f0a9c2
Revises: c2b1a8b5ae8e
Create Date: 2026-11-25 20:10:00

"""
from alembic import op

from audit import ddl

# revision identifiers, used by Alembic.
revision = 'b7d3e1f0a9c2'
down_revision = 'c2b1a8b5ae8e'
branch_labels = None
depends_on = None


def upgrade():
    ddl.install(op.get_bind())


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_entry_append_at_head")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_entry_append_at_head ON audit_entry")
        op.execute("DROP FUNCTION IF EXISTS edc_audit_append_at_head()")
