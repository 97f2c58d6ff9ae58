"""The built wheel is the whole service: installed into a fresh venv, it serves its pages.

No network: the wheel is built without build isolation (setuptools from this environment), installed
with --no-deps, and the venv sees this environment's site-packages for the dependencies.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A copy of what is tracked, so the build leaves nothing (build/, egg-info) in the source tree.
    source = tmp_path_factory.mktemp("source")
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode()
    for name in filter(None, tracked.split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(source)],
        check=True,
        cwd=out,
        env={**os.environ, "PIP_NO_INDEX": "1"},
    )  # fmt: skip
    return next(out.glob("modelcatalog-*.whl"))


def test_the_wheel_carries_the_templates_and_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"api/templates/base.html", "api/templates/models/detail.html"} <= names
    assert "catalog/data/policies/default.yaml" in names
    assert not any(name.startswith(("tests/", "templates/")) for name in names)


def test_an_installed_wheel_serves_its_pages(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    target = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # The dependencies come from this environment, after the venv's own site-packages.
    (Path(target) / "shared.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
         "--target", target, str(wheel)],
        check=True,
    )  # fmt: skip
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "PYTHON", "DATABASE"))
    }
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'catalog.db'}", "HF_HUB_OFFLINE": "1"}
    where = subprocess.run(
        [python, "-c", "import api; print(api.__file__)"],
        cwd=tmp_path, env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert where.startswith(target), where  # the wheel's code, not the source tree's
    modelcatalog = [python, "-m", "api.cli"]
    done = subprocess.run(
        [*modelcatalog, "init"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [*modelcatalog, "serve", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=log, stderr=log,
    )  # fmt: skip
    try:
        for _ in range(150):
            try:
                status, page = fetch(f"http://127.0.0.1:{port}/")
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError((tmp_path / "serve.log").read_text()[-3000:])
        assert status == 200 and '<a class="brand" href="/">modelcatalog</a>' in page
        status, page = fetch(f"http://127.0.0.1:{port}/models/tiiuae/falcon-40b")
        assert status == 200 and 'href="/licenses/apache-2.0"' in page
        status, page = fetch(f"http://127.0.0.1:{port}/models/no/such-model")
        assert status == 404 and "<h1>404" in page
        for path in (
            "/licenses",
            "/datasets",
            "/tasks",
            "/about",
            "/scan",
            "/?q=falcon&license=apache-2.0",
        ):
            status, page = fetch(f"http://127.0.0.1:{port}{path}")
            assert status == 200 and '<a class="brand" href="/">modelcatalog</a>' in page, path
        status, page = fetch(f"http://127.0.0.1:{port}/scan")
        assert 'type="file" name="bom" multiple' in page
    finally:
        server.kill()
        server.wait()
        log.close()
