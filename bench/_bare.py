"""The yardstick of bench/load.py: a bare Flask + SQLAlchemy endpoint that inserts one row
(one transaction, one INSERT, a JSON answer), served by gunicorn like the EDC. Run as
``gunicorn bench._bare:app`` with BARE_DATABASE_URL set."""

from __future__ import annotations

import os

from flask import Flask, jsonify
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert

engine = create_engine(os.environ["BARE_DATABASE_URL"], pool_pre_ping=True)
rows = Table("bare_row", MetaData(), Column("id", Integer, primary_key=True),
             Column("value", String(32)))
app = Flask(__name__)


@app.put("/bare")
def bare():
    with engine.begin() as conn:
        new_id = conn.execute(insert(rows).values(value="120")).inserted_primary_key[0]
    return jsonify({"id": new_id})
