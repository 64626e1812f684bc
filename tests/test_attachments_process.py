"""Uploads against the real app process over real HTTP: a 100 MB file streamed in and out
(memory measured), the size limit, and a read-only uploads folder."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import REPO_ROOT, URL_LINE, need_tool

pytestmark = pytest.mark.process

MB = 1024 * 1024


def make_big_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as fh:
        left = size
        while left:
            chunk = os.urandom(min(MB, left))
            digest.update(chunk)
            fh.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()


class Multipart:
    """A multipart/form-data body streamed from files on disk, never whole in memory."""

    def __init__(self, fields: dict[str, str], files: list[tuple[str, Path]]) -> None:
        self.boundary = "tt-" + uuid.uuid4().hex
        self.parts: list[bytes | Path] = []
        for name, value in fields.items():
            self.parts.append(self._head(f'name="{name}"', None) + value.encode() + b"\r\n")
        for filename, path in files:
            quoted = filename.replace('"', "%22")
            head = self._head(f'name="file"; filename="{quoted}"', "application/octet-stream")
            self.parts += [head, path, b"\r\n"]
        self.parts.append(f"--{self.boundary}--\r\n".encode())

    def _head(self, disposition: str, ctype: str | None) -> bytes:
        lines = [f"--{self.boundary}", f"Content-Disposition: form-data; {disposition}"]
        if ctype:
            lines.append(f"Content-Type: {ctype}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return sum(p.stat().st_size if isinstance(p, Path) else len(p) for p in self.parts)

    def __iter__(self) -> Iterator[bytes]:
        for part in self.parts:
            if isinstance(part, Path):
                with part.open("rb") as fh:
                    while chunk := fh.read(MB):
                        yield chunk
            else:
                yield part


class Api:
    def __init__(self, base_url: str, token: str) -> None:
        self.host, self.port = base_url.removeprefix("http://").split(":")
        self.headers = {"Authorization": f"Bearer {token}"}

    def _conn(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, int(self.port), timeout=120)

    def json(self, method: str, path: str, body=None) -> tuple[int, dict]:
        conn = self._conn()
        headers = dict(self.headers, **{"Content-Type": "application/json"})
        conn.request(method, path, json.dumps(body) if body is not None else None, headers)
        resp = conn.getresponse()
        status, data = resp.status, json.loads(resp.read() or b"null")
        conn.close()
        return status, data

    def upload(self, path: str, form: Multipart) -> tuple[int, dict]:
        conn = self._conn()
        headers = dict(
            self.headers, **{"Content-Type": form.content_type, "Content-Length": str(len(form))}
        )
        conn.request("POST", path, body=iter(form), headers=headers)
        resp = conn.getresponse()
        status, data = resp.status, json.loads(resp.read() or b"null")
        conn.close()
        return status, data

    def download(self, path: str, to: Path) -> tuple[http.client.HTTPResponse, str]:
        conn = self._conn()
        conn.request("GET", path, headers=self.headers)
        resp = conn.getresponse()
        digest = hashlib.sha256()
        with to.open("wb") as fh:
            while chunk := resp.read(MB):
                digest.update(chunk)
                fh.write(chunk)
        conn.close()
        return resp, digest.hexdigest()


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


def uploads_files(data_dir: Path) -> list[str]:
    root = data_dir / "uploads"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def attachment_rows(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "tickettracker.db") as conn:
        return conn.execute("SELECT count(*) FROM attachments").fetchone()[0]


def test_100_mb_upload_streams_through_in_small_memory(start_app, data_dir, tmp_path):
    app = start_app(data_dir, "--no-open")
    api = Api(*app.wait_for_url())
    status, ticket = api.json("POST", "/api/v1/tickets", {"title": "Disk image from laptop"})
    assert status == 201
    big = tmp_path / "disk.img"
    size = 100 * MB  # exactly the default limit: allowed
    digest = make_big_file(big, size)
    # Warm up (imports, first request, a small upload) before taking the baseline.
    small = tmp_path / "small.txt"
    small.write_bytes(b"warm-up")
    assert (
        api.upload(f"/api/v1/tickets/{ticket['id']}/attachments", Multipart({}, [("s", small)]))[0]
        == 201
    )
    before = peak_rss_mb(app.proc.pid)

    form = Multipart({"body": "Image attached"}, [("disk image 💾.img", big)])
    status, note = api.upload(f"/api/v1/tickets/{ticket['id']}/updates", form)
    assert status == 201, note
    (att,) = note["attachments"]
    assert att["size"] == size and att["sha256"] == digest
    after_upload = peak_rss_mb(app.proc.pid)

    resp, got = api.download(f"/api/v1/attachments/{att['id']}", tmp_path / "back.img")
    assert resp.status == 200 and got == digest
    assert "filename*=UTF-8''disk%20image%20%F0%9F%92%BE.img" in resp.headers["Content-Disposition"]
    after_download = peak_rss_mb(app.proc.pid)

    report = (
        f"app peak RSS: {before:.0f} MB before, {after_upload:.0f} MB after a 100 MB upload, "
        f"{after_download:.0f} MB after downloading it again"
    )
    print(report)
    Path(REPO_ROOT / "test-artifacts").mkdir(exist_ok=True)
    (REPO_ROOT / "test-artifacts" / "upload-memory.txt").write_text(report + "\n")
    assert after_download - before < 40, report
    warm = hashlib.sha256(b"warm-up").hexdigest()
    assert uploads_files(data_dir) == sorted([f"{digest[:2]}/{digest}", f"{warm[:2]}/{warm}"])


def test_over_limit_refused_over_http_with_no_residue(start_app, data_dir, tmp_path):
    data_dir.mkdir(parents=True)
    (data_dir / "config.json").write_text(json.dumps({"uploads": {"max_file_mb": 1}}))
    app = start_app(data_dir, "--no-open")
    api = Api(*app.wait_for_url())
    _, ticket = api.json("POST", "/api/v1/tickets", {"title": "Too big"})
    big = tmp_path / "big.bin"
    make_big_file(big, 3 * MB)
    status, err = api.upload(
        f"/api/v1/tickets/{ticket['id']}/attachments", Multipart({}, [("big.bin", big)])
    )
    assert status == 413
    assert err == {
        "error": "'big.bin' is 3 MB; files may be at most 1 MB. Nothing was saved. Attach a "
        "smaller file or a link to it (the limit is uploads.max_file_mb in config.json).",
        "field": "file",
    }
    assert uploads_files(data_dir) == [] and attachment_rows(data_dir) == 0


def start_with_read_only_uploads(data_dir: Path) -> subprocess.Popen:
    """The app with uploads/ on a read-only mount, so even root cannot write there.

    A private user and mount namespace (util-linux unshare) makes the read-only bind mount
    without touching the rest of the machine; it disappears with the process.
    """
    unshare = need_tool("unshare", "install util-linux (apt-get install -y util-linux)")
    uploads = data_dir / "uploads"
    (uploads / "tmp").mkdir(parents=True)
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.Popen(
        [
            unshare,
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            script,
            "sh",
            str(uploads),
            sys.executable,
            "-m",
            "tickettracker",
            "--data-dir",
            str(data_dir),
            "--no-open",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_read_only_uploads_folder_leaves_no_row(data_dir, tmp_path):
    proc = start_with_read_only_uploads(data_dir)
    try:
        timer = threading.Timer(60, proc.kill)
        timer.start()
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if match := URL_LINE.search(line):
                break
        timer.cancel()
        if not lines or not match:
            pytest.fail(
                "the app did not start with a read-only uploads folder (unshare needs user "
                f"namespaces): {lines} {proc.stderr.read()}",
                pytrace=False,
            )
        api = Api(match.group(1), match.group(3))
        _, ticket = api.json("POST", "/api/v1/tickets", {"title": "Read-only disk"})
        report = tmp_path / "report.pdf"
        report.write_bytes(b"%PDF-1.4 " + os.urandom(50_000))
        form = Multipart({"body": "see attached"}, [("report.pdf", report)])
        status, err = api.upload(f"/api/v1/tickets/{ticket['id']}/updates", form)
        assert status == 507, err
        assert err["field"] == "file"
        assert (
            "'report.pdf' could not be saved in the uploads folder (Read-only file system)"
            in (err["error"])
        )
        status, got = api.json("GET", f"/api/v1/tickets/{ticket['id']}")
        assert [u["kind"] for u in got["updates"]] == ["status"]  # no note, no attachment
    finally:
        proc.terminate()
        proc.wait(30)
        proc.stdout.close()
        proc.stderr.close()
    assert attachment_rows(data_dir) == 0
    assert uploads_files(data_dir) == []
