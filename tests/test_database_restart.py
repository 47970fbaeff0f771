"""PostgreSQL restarted (immediate shutdown: a crash and recovery) in the middle of a burst of
saves against gunicorn as production runs it. The server is a private cluster of this test's
own, never the shared one. While the database is away saves answer 503; afterwards the app
reconnects by itself (pool pre-ping) and saves are acknowledged again; every acknowledged
save is in the database with its audit entry, nothing beyond the saves whose answer the
restart cut off, and the trail verifies."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from edc import create_app
from edc.extensions import db
from tests.conftest import _make_world, _migrate, base_config
from tests.test_kill import GUNICORN, Server, _free_port, assert_burst_kept, bursts, four_subjects

INITDB = shutil.which("initdb")


class Cluster:
    """A throwaway PostgreSQL cluster on a free port (trust authentication, loopback only)."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="edc-pg-"))
        self.port = _free_port()
        self.as_owner: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: its own account runs it
            shutil.chown(self.dir, "postgres")
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        self.data = self.dir / "data"
        self._run(INITDB, "-D", str(self.data), "--auth=trust", "-U", "postgres",
                  "--no-sync")
        self.pg_ctl = str(Path(INITDB).with_name("pg_ctl"))

    def _run(self, *cmd: str) -> None:
        subprocess.run([*self.as_owner, *cmd], check=True, capture_output=True,  # noqa: S603
                       timeout=120)

    def start(self) -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-w", "-l", str(self.dir / "log"),
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                        "-c fsync=off", "start")

    def restart_immediately(self) -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-w", "-m", "immediate", "stop")
        time.sleep(1.0)  # away long enough for requests to meet the outage
        self.start()

    def stop(self) -> None:
        try:
            self._run(self.pg_ctl, "-D", str(self.data), "-w", "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def create_database(self, name: str) -> str:
        self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-c",
                  f"CREATE DATABASE {name}")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


@pytest.fixture
def cluster():
    if INITDB is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
        pytest.skip("PostgreSQL's server programs (initdb) are not installed here")
    made = Cluster()
    made.start()
    yield made
    made.stop()


@pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is installed with the app")
def test_postgresql_restarted_mid_burst(cluster):
    from edc.auth.tokens import issue
    from edc.cli import cli_actor
    from edc.models import User

    url = cluster.create_database("edc")
    _migrate(url)
    app = create_app(base_config(url))
    with app.app_context():
        world = _make_world()
        subjects = four_subjects(world)
        _, bearer = issue(db.session.get(User, world.users["crc"]), label="burst",
                          actor=cli_actor())
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    server = Server(app, _free_port())
    server.start()
    try:
        with bursts(lambda: server.port, {"Authorization": f"Bearer {bearer}"},
                    subjects) as records:
            time.sleep(1.5)
            cluster.restart_immediately()
            back = time.monotonic()
            # every client saves again once the app has reconnected; a busy machine takes
            # longer, so wait for it (bounded) rather than for a fixed time
            deadline = back + 60
            while time.monotonic() < deadline and not all(
                    any(t > back for t in r["at"]) for r in records.values()):
                time.sleep(0.2)
            time.sleep(0.5)  # and a few saves more
    finally:
        server.kill_all()
    with app.app_context():
        assert_burst_kept(records)
        # the app came back by itself: saves acknowledged after the restart
        assert all(any(t > back for t in r["at"]) for r in records.values()), records
        db.session.remove()
        db.engine.dispose()
