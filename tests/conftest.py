"""Shared fixtures: a local HTTP server on 127.0.0.1 with Range, redirects, faults;
the project reproduced at tiny sizes once per session for the end-to-end tests.

The session's environment is pinned here, before any test or child process: the
suite must pass however it is started (a terminal or not, any locale, HOME or
inherited variable).
"""

import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import reproduce_tiny

from hw2.core.device import cpu_threads

os.environ.setdefault("DVC_NO_ANALYTICS", "1")
# the tests' dvc keeps its site cache in the temp folder, as the Makefile keeps it
# in the project (test_probes_integrity.py): never DVC's /var/tmp/dvc
os.environ.setdefault(
    "DVC_SITE_CACHE_DIR",
    os.path.join(tempfile.gettempdir(), f"hw2-cache-{os.getuid()}", "dvc"),
)


@pytest.fixture
def one_thread():
    """Run a test on one intra-op thread: tiny models only lose to a thread pool."""
    with cpu_threads(1):
        yield


class FileServer:
    """Serves files from a folder; can cut a response short or fail with a status."""

    def __init__(self, root: Path):
        self.root = root
        self.cut_after: int | None = None  # bytes sent before the connection drops
        self.fail_status: int | None = None
        self.ignore_range = False
        self.redirects: dict[str, str] = {}  # request path -> Location (302)
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                server.requests.append(
                    {"path": self.path, "range": self.headers.get("Range")}
                )
                if server.fail_status:
                    self.send_error(server.fail_status)
                    return
                if self.path in server.redirects:
                    self.send_response(302)
                    self.send_header("Location", server.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                path = server.root / self.path.split("?")[0].lstrip("/")
                if not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                start = 0
                rng = self.headers.get("Range")
                if rng and not server.ignore_range:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header(
                        "Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}"
                    )
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_after is not None:
                    self.wfile.write(body[: server.cut_after])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"


@pytest.fixture
def http_server(tmp_path):
    """A FileServer over tmp_path/'served'; put files there, fetch server.url(name)."""
    root = tmp_path / "served"
    root.mkdir()
    server = FileServer(root)
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@dataclass(frozen=True)
class Reproduced:
    """The tiny project after `dvc repro`, committed; `changed`: what the repro
    changed in `git status`."""

    root: Path
    changed: frozenset[str]


@pytest.fixture(scope="session")
def tiny_reproduced(tmp_path_factory) -> Reproduced:
    """The project at helpers.TINY sizes, reproduced once for the whole session.

    Shared: a test copies it (helpers.copy_reproduced) before changing anything;
    a change left in it fails the session at teardown.
    """
    root = tmp_path_factory.mktemp("tiny") / "project"
    changed = reproduce_tiny(root)
    yield Reproduced(root, frozenset(changed))
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert status == "", f"a test changed the shared reproduced project:\n{status}"


# Inherited variables a test or a tool it runs would read: terminal width and
# colour, git's repository and config, DVC's config and the project's own settings,
# a torchrun's ranks, a developer's cloud credentials. (DVC_SITE_CACHE_DIR is
# where DVC keeps its file-hash state: kept.)
_DROP_PREFIXES = ("GIT_", "DVC_", "HW2_", "AWS_", "LC_", "TORCHELASTIC_", "GITHUB_")
_DROP = {"COLUMNS", "LINES", "TERM", "NO_COLOR", "FORCE_COLOR", "CLICOLOR"}
_DROP |= {"CLICOLOR_FORCE", "CI", "PAGER", "RANK", "LOCAL_RANK", "WORLD_SIZE"}
_DROP |= {"MASTER_ADDR", "MASTER_PORT", "MPLCONFIGDIR", "TORCHINDUCTOR_CACHE_DIR"}
_KEEP = {"DVC_SITE_CACHE_DIR"}


def pytest_configure(config):
    """Pin the session's environment before any test collects or runs."""
    for name in list(os.environ):
        if name not in _KEEP and (name in _DROP or name.startswith(_DROP_PREFIXES)):
            del os.environ[name]
    home = tempfile.mkdtemp(prefix="hw2-tests-home-")
    config.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))
    os.environ.update(
        HOME=home,
        XDG_CONFIG_HOME=f"{home}/.config",
        XDG_CACHE_HOME=f"{home}/.cache",
        XDG_DATA_HOME=f"{home}/.local/share",
        LANG="C.UTF-8",
        LC_ALL="C.UTF-8",
        TZ="UTC",
        PAGER="cat",
        DVC_NO_ANALYTICS="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@t",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@t",
    )
