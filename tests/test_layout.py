"""The layout is the design (DESIGN.md): data flows one way, and no module grows past a size a
newcomer can read. These tests read the source, so a stray import anywhere in a file counts,
including one inside a function."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: roboref's sub-packages that are parts of the design; any other ``roboref.X`` is glue.
PARTS = {"envs", "rewards", "agents", "assets", "configs"}
#: What each lower layer must not import (glue is every top-level roboref module).
FORBIDDEN = {"envs": {"agents", "glue"}, "rewards": {"agents", "glue"}}
MAX_LINES = 450


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "roboref":
        return None
    if len(parts) == 1:
        return "root"  # `import roboref` (package init: sets MUJOCO_GL) is allowed
    return parts[1] if parts[1] in PARTS else "glue"


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_lower_layers_do_not_import_upper_ones(folder):
    bad = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for module in sorted(_imports(path)):
            if _layer(module) in FORBIDDEN[folder]:
                bad.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not bad, "\n".join(bad)


def test_the_import_check_sees_a_forbidden_import(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from roboref.video import annotate\n    import roboref.agents.base\n")
    assert {_layer(m) for m in _imports(f)} == {"glue", "agents"}


def test_no_module_is_over_the_size_limit():
    big = []
    for folder in ("envs", "agents", "rewards", "roboref"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            n = len(path.read_text().splitlines())
            if n > MAX_LINES:
                big.append(f"{path.relative_to(ROOT)}: {n} lines")
    assert not big, f"modules over {MAX_LINES} lines:\n" + "\n".join(big)
