"""The house rules, checked: imports run tui -> checks -> engine and never back, the engine and
the checks never import Textual, and the engine's pure parts import neither torch nor Textual
(so a headless diagnosis, the reports and the checks load in a second, without a GPU stack).

import-linter reads the contracts in pyproject.toml. Its import graph is built by walking the
root package's folder, and this project maps `scoregap.engine` etc. onto top-level folders
(setuptools package-dir), so the test copies the sources into the layout they are installed in
and lints the copy.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPED = {"scoregap": "scoregap", "scoregap/engine": "engine", "scoregap/checks": "checks",
          "scoregap/tui": "tui", "scoregap/profiles": "profiles"}
PURE = ("scoregap.engine.setup", "scoregap.engine.session", "scoregap.engine.stats", "scoregap.engine.reports",
        "scoregap.engine.run", "scoregap.engine.catalog", "scoregap.checks")


def installed_layout(into: Path) -> Path:
    for target, source in MAPPED.items():
        for file in (ROOT / source).rglob("*.py"):
            relative = file.relative_to(ROOT / source)
            if target == "scoregap" and len(relative.parts) > 1:
                continue
            dest = into / target / relative
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, dest)
    return into


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(lint), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
                          cwd=tree, capture_output=True, text=True, timeout=120)


def test_the_import_contracts_hold(tmp_path: Path) -> None:
    result = lint_imports(installed_layout(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_a_broken_contract_is_caught(tmp_path: Path) -> None:
    tree = installed_layout(tmp_path)
    errors = tree / "scoregap" / "engine" / "errors.py"
    errors.write_text(errors.read_text() + "\nimport textual  # noqa\n")
    result = lint_imports(tree)
    assert result.returncode != 0 and "BROKEN" in result.stdout


HEAVY = ("torch", "textual", "transformers", "vllm", "math_verify", "scipy.stats")


def test_the_engine_and_the_checks_import_light() -> None:
    code = f"import sys\nimport {', '.join(PURE)}\nprint([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"importing {', '.join(PURE)} imported {out.stdout.strip()}"
