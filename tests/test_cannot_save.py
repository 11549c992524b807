"""When the database cannot take a write — a read-only or a full disk — a person gets a page
in words (503, nothing changed), the upload form's file is named, and nothing is lost: once the
disk is writable again the same request works.

A real small tmpfs holds the database, remounted read-only or filled up, as a server's disk
would be. Mounting needs root, which the test machines and CI have."""

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from models import base
from models.sequences import Sequence
from tests.support import csrf_token, post_form
from tests.test_sequences import add_mailbox, team_of

pytestmark = pytest.mark.skipif(os.environ.get("DATABASE_URL", "").startswith("postgres"),
                                reason="a disk for SQLite's file")


def _mount(*args):
    return subprocess.run(["mount", *args], capture_output=True, text=True)


@pytest.fixture
def small_disk(app):
    folder = Path(tempfile.mkdtemp(prefix="tether-disk-"))
    result = _mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder))
    if result.returncode != 0:
        message = f"cannot mount a tmpfs here: {result.stderr.strip()}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    original = base.db.obj
    base.init_db(f"sqlite:///{folder / 'tether.db'}")
    base.migrate()
    try:
        yield folder
    finally:
        base.db.obj.close()
        base.db.initialize(original)
        _mount("-o", "remount,rw", str(folder))
        subprocess.run(["umount", str(folder)], check=False)
        folder.rmdir()


def _fill(folder: Path) -> Path:
    """Take every free byte of the disk."""
    junk = folder / "junk"
    # Unbuffered, in pages: a buffered write cut short keeps its rest and raises it again at
    # close, whenever the free space is not a multiple of the chunk.
    with open(junk, "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 4096)
        except OSError:
            pass
    return junk


def _create(client, mailbox, name, token):
    return client.post("/sequences/new", data={
        "csrf_token": token, "name": name, "mailbox": mailbox.id, "sender_name": "",
        "days": ["0", "1", "2", "3", "4"], "window_start": "09:00", "window_end": "17:00",
        "timezone": "Europe/Berlin"})


def test_a_read_only_disk_says_so_and_changes_nothing(accounts, client, small_disk):
    accounts.sign_up()
    mailbox = add_mailbox(team_of())
    token = csrf_token(client, "/sequences/new")  # the form, read while the disk is writable
    _create(client, mailbox, "First", token)
    assert _mount("-o", "remount,ro", str(small_disk)).returncode == 0
    response = _create(client, mailbox, "Second", token)
    text = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers["Retry-After"] == "60"
    assert "Tether cannot save right now" in text and "Nothing was changed" in text
    assert _mount("-o", "remount,rw", str(small_disk)).returncode == 0
    assert [s.name for s in Sequence.select().order_by(Sequence.id)] == ["First"]
    _create(client, mailbox, "Second", token)
    assert [s.name for s in Sequence.select().order_by(Sequence.id)] == ["First", "Second"]


def test_a_full_disk_names_the_uploaded_file_and_loses_nothing(accounts, client, small_disk):
    accounts.sign_up()
    rows = "email,first_name\n" + "".join(f"p{n}@client.test,P{n}\n" for n in range(200))
    token = csrf_token(client, "/contacts/import")
    junk = _fill(small_disk)
    response = client.post("/contacts/import", content_type="multipart/form-data",
                           data={"csrf_token": token, "file": (_csv(rows), "leads.csv")})
    text = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "leads.csv was not imported" in text and "Nothing was changed" in text
    junk.unlink()
    again = post_form(client, "/contacts/import", {"file": (_csv(rows), "leads.csv")},
                      page="/contacts/import", content_type="multipart/form-data")
    assert again.status_code == 302 and "/contacts/imports/" in again.location


def test_an_upload_over_the_request_limit_gets_the_import_forms_words(accounts, client, app):
    accounts.sign_up()
    limit = app.config["MAX_CONTENT_LENGTH"]
    big = b"email\n" + b"x@client.test\n" * (limit // 14 + 10)
    response = post_form(client, "/contacts/import", {"file": (_csv(big), "huge.csv")},
                         page="/contacts/import", content_type="multipart/form-data")
    text = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "larger than 16 MB" in text and "Import contacts from CSV" in text


def _csv(content):
    import io

    return io.BytesIO(content.encode() if isinstance(content, str) else content)
