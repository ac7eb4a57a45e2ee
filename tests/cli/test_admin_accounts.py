"""`spinecare admin list-users | disable | enable | revoke-tokens | reset-password`, run as a
real subprocess on an SQLite file: each changes the account, says what it did, is audited as
done by the command line, and names an unknown account without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from spinecare.store.accounts import authenticate
from spinecare.store.db import Database
from spinecare.store.models import AuditEvent, User

SPINECARE = str(Path(sys.executable).with_name("spinecare"))


def _run(tmp: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SPINECARE_DATA_DIR": str(tmp)}
    env.pop("SPINECARE_DATABASE_URL", None)
    return subprocess.run([SPINECARE, "admin", *args, "--database", f"sqlite:///{tmp}/c.db"],
                          input=stdin, capture_output=True, text=True, env=env, timeout=120)


def test_admin_commands_take_access_away_and_give_it_back(tmp_path: Path) -> None:
    assert _run(tmp_path, "create-user", "dr-who", "--role", "clinician", "--password-stdin",
                stdin="a long enough password\n").returncode == 0
    done = _run(tmp_path, "disable", "dr-who")
    assert done.returncode == 0 and done.stdout.startswith("disabled 'dr-who'")
    listed = _run(tmp_path, "list-users").stdout.splitlines()
    assert listed == ["1\tdr-who\tclinician\tdisabled"]
    assert _run(tmp_path, "enable", "dr-who").returncode == 0
    done = _run(tmp_path, "reset-password", "dr-who")
    assert done.returncode == 0 and "/reset-password#" in done.stdout
    db = Database(f"sqlite:///{tmp_path}/c.db")
    with db.session() as session:
        assert session.scalar(select(User.disabled)) is False
        assert authenticate(session, "dr-who", "a long enough password") is not None
        actions = list(session.scalars(select(AuditEvent.action).where(
            AuditEvent.actor_id.is_(None))))
    db.dispose()
    assert {"user.disable", "user.enable", "user.password_reset"} <= set(actions)

    missing = _run(tmp_path, "revoke-tokens", "nobody")
    assert missing.returncode == 2
    assert missing.stderr.strip() == "spinecare: 'nobody': no such account"
