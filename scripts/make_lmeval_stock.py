"""Write `profiles/lm-eval/stock.json`: how lm-eval 0.4.13 records each catalog task's own config.

Why: a run's results file records the task config it ran (`configs[task]`). For a task in the
catalog the import extends the `lm-eval/<task>` preset, which reproduces lm-eval's stock YAML. A
run whose config was edited (another description, doc_to_text, split or process_docs) would be
diagnosed as the stock task, so the import compares the recorded fields with these and lists
every field that differs. With logged samples the prompt check also catches it; without, this is
the only place it shows.

The values are exactly what lm-eval writes into a results file: the YAML loaded with its
`!function` tags resolved, then `TaskConfig(...).to_dict()` (a function becomes its source). Run
with lm-eval 0.4.13 installed (the version the catalog reproduces); rerunning rewrites identical
bytes, and tests/engine/test_lmeval_stock.py checks the file against the installed lm-eval:

    python scripts/make_lmeval_stock.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from scoregap.engine.catalog import entries
from scoregap.engine.lmeval_setup import STOCK_FIELDS, STOCK_FILE


def task_names() -> list[str]:
    """lm-eval's task name for every catalog entry (MMLU: one per subject)."""
    names = []
    for e in entries():
        names += [f"{e.benchmark}_{c}" for c in e.configs] if len(e.configs) > 1 else [e.benchmark]
    return names


def stock(name: str, manager: Any) -> dict[str, Any]:
    from lm_eval.config.task import TaskConfig

    config = manager._factory._load_full_config(manager.task_index[name])
    for key in ("tag", "group", "task_list"):
        config.pop(key, None)
    dumped = TaskConfig(**config).to_dict()
    out = {key: dumped.get(key) for key in STOCK_FIELDS}
    out["version"] = (dumped.get("metadata") or {}).get("version")
    return out


def task_folders(names: list[str]) -> list[str]:
    """The folders of lm-eval's own tasks that define `names` (indexing only those takes a second;
    indexing all of lm-eval's tasks takes fifteen)."""
    import lm_eval

    wanted, folders = set(names), set()
    for path in (Path(lm_eval.__file__).parent / "tasks").rglob("*.yaml"):
        text = path.read_text(encoding="utf-8", errors="replace")
        if any(m.group(1) in wanted for m in re.finditer(r"^\s*[\"']?task[\"']?:\s*[\"']?([\w.-]+)", text, re.M)):
            folders.add(str(path.parent))
    return sorted(folders)


def build() -> dict[str, Any]:
    import lm_eval
    from lm_eval.tasks import TaskManager

    names = task_names()
    manager = TaskManager(include_path=task_folders(names), include_defaults=False)
    return {"lm_eval": lm_eval.__version__, "tasks": {name: stock(name, manager) for name in names}}


def main() -> None:
    STOCK_FILE.write_text(json.dumps(build(), indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {STOCK_FILE}")


if __name__ == "__main__":
    main()
