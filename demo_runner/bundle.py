"""`modelcatalog demo export`: a folder that runs one demo anywhere, without modelcatalog."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

REQUIREMENTS = "ctranslate2>=4.5\ntransformers>=4.45\ntokenizers>=0.19\nflask>=3.0\njinja2>=3.1\n"


def export_bundle(model_path: Path, out: Path, repo_id: str) -> None:
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(model_path, out / "model", ignore=shutil.ignore_patterns(".last_used"))
    app = resources.files("demo_runner").joinpath("bundle_files/app.py").read_text("utf-8")
    (out / "app.py").write_text(app)
    (out / "requirements.txt").write_text(REQUIREMENTS)
    (out / "README.md").write_text(
        f"# {repo_id}: a CTranslate2 demo\n\n"
        "Exported by modelcatalog. The model in `model/` is a quantized CTranslate2 conversion; check the\n"
        f"license of {repo_id} before you share or use it.\n\n"
        "```sh\npip install -r requirements.txt\npython app.py --port 8000\n"
        "curl -s localhost:8000/v1/chat/completions -H 'Content-Type: application/json' \\\n"
        '  -d \'{"messages": [{"role": "user", "content": "Hello"}]}\'\n```\n'
    )
