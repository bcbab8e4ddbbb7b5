"""Reading hub datasets: by id through `datasets`, or a local folder in the hub's own layout.

A dataset repository on the hub lists its configs in the front matter of its README:

    configs:
    - config_name: ARC-Challenge
      data_files:
      - split: test
        path: ARC-Challenge/test-00000-of-00001.parquet

A folder written that way (a snapshot of the repository, or a replica the tests build) is read
here directly, config by config and split by split, from its parquet or JSON Lines files: no
`datasets` cache, no conversion, a few milliseconds a config (MMLU has 57). Anything else given
in `task.hf` (a hub id, a folder without `configs:`) goes through `datasets.load_dataset`, at
`task.revision` when one is set.
"""

from __future__ import annotations

import functools
import glob
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scoregap.engine.errors import InputError

Rows = list[dict[str, Any]]
Reader = Callable[[str, str], Rows]


class HubUnavailable(InputError):
    """A hub dataset `datasets` could not load (offline and not in its cache, no such id, no
    network). `hf` and `cause` let a front end say it in its own terms (the wizard points at its
    task field); the message says it for a setup file."""

    def __init__(self, message: str, hf: str, cause: str) -> None:
        super().__init__(message)
        self.hf, self.cause = hf, cause


def reader(hf: str, revision: str = "") -> Reader:
    """A function (config, split) -> rows for the dataset `hf` names."""
    folder = Path(hf)
    configs = layout(folder) if folder.is_dir() else None
    if configs is not None:
        return lambda config, split: _local_rows(folder, configs, config, split)
    return lambda config, split: _hub_rows(hf, config, split, revision)


def layout(folder: Path) -> dict[str, dict[str, list[str]]] | None:
    """config -> split -> file patterns, from the README's front matter; None without one."""
    readme = folder / "README.md"
    if not readme.is_file():
        return None
    text = readme.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        return None
    end = text.find("\n---", 3)
    import yaml  # transformers depends on PyYAML

    try:
        front = yaml.safe_load(text[3:end if end > 0 else None]) or {}
    except yaml.YAMLError as err:
        raise InputError(f"{readme}: the front matter is not valid YAML ({err}).") from None
    if not isinstance(front, dict) or "configs" not in front:
        return None
    out: dict[str, dict[str, list[str]]] = {}
    for entry in front["configs"] or []:
        if not isinstance(entry, dict) or "config_name" not in entry:
            raise InputError(f"{readme}: each item of configs needs a config_name.")
        files = entry.get("data_files", [])
        splits: dict[str, list[str]] = {}
        for item in files if isinstance(files, list) else [files]:
            if isinstance(item, str):
                splits.setdefault("train", []).append(item)
                continue
            paths = item.get("path", [])
            splits.setdefault(str(item.get("split", "train")), []).extend([paths] if isinstance(paths, str) else paths)
        out[str(entry["config_name"])] = splits
    return out


def _local_rows(folder: Path, configs: dict[str, dict[str, list[str]]], config: str, split: str) -> Rows:
    name = config or ("default" if "default" in configs else next(iter(configs), ""))
    if name not in configs:
        raise InputError(f'{folder}: the dataset has no config "{config}" (its README lists: '
                         f"{', '.join(configs) or 'none'}). Set task.subset or task.subsets to one of them.")
    splits = configs[name]
    if split not in splits:
        raise InputError(f'{folder}: config "{name}" has no split "{split}" (it has: {", ".join(splits)}). '
                         f"Set task.split and task.fewshot_split to one of them.")
    files = sorted({f for pattern in splits[split] for f in glob.glob(str(folder / pattern))})
    if not files:
        raise InputError(f'{folder}: config "{name}", split "{split}": no file matches {splits[split]}.')
    rows: Rows = []
    for file in files:
        path = Path(file)
        rows += _read_file(path, path.stat().st_mtime_ns)
    return rows


@functools.lru_cache(maxsize=256)
def _read_file(path: Path, stamp: int) -> Rows:
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise InputError(f'{path}: reading parquet needs pyarrow: pip install "scoregap[hub]".') from None
        try:
            return pq.read_table(path).to_pylist()
        except Exception as err:  # pyarrow raises several types for a damaged file
            raise InputError(f"{path}: not a readable parquet file ({err}).") from None
    if path.suffix in (".jsonl", ".json"):
        rows = []
        for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as err:
                    raise InputError(f"{path}, line {number}: not JSON ({err}).") from None
        return rows
    raise InputError(f"{path}: scoregap reads parquet and JSON Lines data files, not {path.suffix or 'this'}.")


def _hub_rows(hf: str, config: str, split: str, revision: str) -> Rows:
    try:
        import datasets
    except ImportError:
        raise InputError(f'task.hf = "{hf}" needs the `datasets` package: pip install "scoregap[hub]".') from None
    try:
        rows = datasets.load_dataset(hf, config or None, split=split, revision=revision or None)
    except Exception as err:  # datasets raises many types; all mean "cannot have it"
        at = f" at revision {revision}" if revision else ""
        folder = "/data/" + hf.rstrip("/").rsplit("/", 1)[-1]
        raise HubUnavailable(
            f'Hub dataset "{hf}" (config "{config}", split "{split}"){at} could not be loaded: {err}. '
            f"Offline, only datasets already in the local cache can be used, or a local copy: set task.hf "
            f"to a folder in the hub layout (a snapshot of the dataset repository: README.md with its "
            f"configs and the data files; on a machine online, hf download {hf} --repo-type dataset "
            f'--local-dir {folder}), for example in a setup that extends this one with [task] hf = "{folder}".',
            hf, str(err),
        ) from None
    return [dict(r) for r in rows]
