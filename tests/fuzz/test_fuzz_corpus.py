"""Every case of the fuzz corpus (tests/fuzz/cases/, written by scripts/make_fuzz_corpus.py) ends
in one clear paragraph and exit code 2: no traceback, no hang, no silently wrong number.

Each case runs through the real command line (`scoregap.tui.cli.main`, in-process) in a copy of
its folder, where its symbolic links and big inputs are made first. A case marked
`needs = "no-cuda"` (`device = "cuda"`) is malformed only where CUDA is absent: skipped elsewhere.
"""

from __future__ import annotations

import shutil
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fakeworld import write_fake_model, write_mc_task

from scoregap.tui.cli import main

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CASES_DIR = Path(__file__).parent / "cases"
CASES = sorted(p.parent for p in CASES_DIR.glob("*/case.toml"))
SECONDS = 60          # a case that runs longer than this hangs: it fails instead
BUDGET = 1_000_000    # bytes the committed corpus may take


def _meta(folder: Path) -> dict[str, Any]:
    return tomllib.loads((folder / "case.toml").read_text(encoding="utf-8"))


def _param(folder: Path) -> Any:
    marks = []
    if _meta(folder).get("needs") == "no-cuda":
        marks.append(pytest.mark.skipif(_has_cuda(), reason="CUDA is present here: device = \"cuda\" is valid"))
    return pytest.param(folder, id=folder.name, marks=marks)


def _has_cuda() -> bool:
    import torch  # only for the one case that asks; the corpus otherwise needs no torch

    return bool(torch.cuda.is_available())


@pytest.fixture(scope="session")
def fake_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz-fake")
    return write_fake_model(root / "model", write_mc_task(root / "task", n_docs=4, pool=2))


def _model(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "fake":
        return str(request.getfixturevalue("fake_model"))
    if kind in ("tiny", "tiny-truncated"):
        tiny = Path(request.getfixturevalue("tiny_model"))
        if kind == "tiny":
            return str(tiny)
        copy = shutil.copytree(tiny, tmp_path / "truncated-model")
        weights = copy / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
        return str(copy)
    return "none"


def _prepare(source: Path, work: Path, meta: dict[str, Any], model: str) -> None:
    shutil.copytree(source, work)
    for name, target in meta.get("links", {}).items():
        (work / name).symlink_to(target)
    for name, spec in meta.get("expand", {}).items():
        path = work / name
        big = spec["text"] * spec["times"]
        path.write_text(path.read_text(encoding="utf-8").replace(spec["marker"], big), encoding="utf-8")
    for path in work.rglob("*.toml"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if b"@MODEL@" in data:
                path.write_bytes(data.replace(b"@MODEL@", model.encode()))


@contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    """A hang becomes a failure (SIGALRM interrupts Python code in the main thread)."""

    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"the case ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _flat(text: str) -> str:
    """The message with its line wrapping undone (the CLI wraps at 100 columns)."""
    return " ".join(text.split())


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links and SIGALRM")
@pytest.mark.parametrize("folder", [_param(c) for c in CASES])
def test_case_exits_2_with_a_clear_message(folder: Path, request: pytest.FixtureRequest, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    meta = _meta(folder)
    model = _model(meta.get("model", "fake"), request, tmp_path)
    work = tmp_path / "case"
    _prepare(folder, work, meta, model)
    monkeypatch.chdir(work)
    argv = [a.replace("{model}", model) for a in meta["command"]] + ["--cache-dir", str(tmp_path / "cache")]
    if "--quiet" not in argv:
        argv.append("--quiet")
    began = time.perf_counter()
    with _deadline(SECONDS):
        try:
            code = main(argv)
        except SystemExit as exit_:       # argparse
            code = exit_.code
    seconds = time.perf_counter() - began
    out, err = capsys.readouterr()
    message = _flat(err)
    assert "Traceback" not in out + err
    assert "line ?" not in message
    assert code == 2, f"exit code {code}; stderr: {err[-2000:]}"
    missing = [f for f in meta["expect"] if _flat(f) not in message]
    assert not missing, f"the message lacks {missing}: {message[:2000]}"
    assert seconds < 20, f"took {seconds:.1f} s"


def test_the_corpus_is_there_and_small() -> None:
    size = sum(p.stat().st_size for p in CASES_DIR.rglob("*") if p.is_file())
    assert len(CASES) >= 40
    assert size < BUDGET, f"the committed corpus takes {size:,} bytes; generate big inputs with [expand]"


def test_the_corpus_is_what_the_script_writes(tmp_path: Path) -> None:
    """An edited generator without a regenerated corpus (or a hand-edited case) is caught."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "make_fuzz_corpus.py"
    import runpy

    out = tmp_path / "cases"
    runpy.run_path(str(script), run_name="fuzz_corpus")["main"](["--out", str(out)])
    written = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    kept = {p.relative_to(CASES_DIR): p.read_bytes() for p in CASES_DIR.rglob("*") if p.is_file()}
    assert written.keys() == kept.keys()
    assert [k for k in written if written[k] != kept[k]] == []
