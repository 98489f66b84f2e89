import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_subpackages_live_under_roboref():
    for sub in ("envs", "rewards", "agents", "assets", "configs"):
        mod = importlib.import_module(f"roboref.{sub}")
        assert Path(mod.__file__).resolve().parent == ROOT / sub


def test_no_generic_top_level_packages(tmp_path):
    """As a user sees it (outside the repo), only ``roboref`` is installed, not ``envs``…"""
    code = (
        "import importlib.util as u; import roboref.envs; "
        "print([n for n in ('envs', 'rewards', 'agents', 'assets', 'configs') "
        "if u.find_spec(n)])"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_torch_is_pinned_and_console_script_declared():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # the CPU build on this project's Python (3.11); Isaac Lab's Python 3.12 brings its own torch
    assert "torch==2.13.0; python_version < '3.12'" in meta["dependencies"]
    assert not any(d.startswith("torchvision") for d in meta["dependencies"])
    assert meta["scripts"]["roboref"] == "roboref.cli:main"
