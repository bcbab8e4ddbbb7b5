"""A setup as lm-evaluation-harness would run it: a task YAML and an `lm-eval run` command line.

Reports use this to say how to reproduce a number with the reference tool; the parity test and
the benchmark use it to run lm-eval on exactly the setup scoregap ran. Not every setup has an
equivalent: lm-eval's random few-shot sampler draws shots in doc order from one generator (our
"stream" sampler, exported as lm-eval's default with its seed; our "random" seeds per doc), it
cannot reverse or shuffle shot order, or put the description in the user turn. `LmEvalExport.unsupported` lists what would differ; an export with an empty list scores
the same (the parity test holds it to that).

The YAML is written as JSON, which YAML parsers read as it is, so no string needs YAML escaping.
A report writes it into its folder (`TASK_FOLDER`) and names that folder in the command
(`with_include_path`); `shell_lines` lays the command out in lines that fit a width, broken
between arguments only, so a copied command still runs and a path is never cut.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scoregap.engine.prompts import ROMAN
from scoregap.engine.setup import Setup
from scoregap.engine.tasks import Task

MAX_LABELS = 26
TASK_DIR = "TASK_DIR"          # the --include_path of a command whose task YAML is not written yet
TASK_FOLDER = "lm-eval-task"   # a report folder's subfolder that holds the task YAML (and nothing else)


def safe_name(text: str) -> str:
    """A task name fit for lm-eval and for a file name: letters, digits and underscores only (a
    task file's `name` is user input: "../x" must not become a path)."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")[:64] or "task"


@dataclass(frozen=True)
class LmEvalExport:
    task_name: str
    config: dict[str, Any]             # the task YAML's content
    model_args: dict[str, Any]
    run_args: dict[str, Any]           # simple_evaluate / CLI arguments
    unsupported: tuple[str, ...] = field(default=())

    def yaml(self) -> str:
        return json.dumps(self.config, indent=2, ensure_ascii=False) + "\n"

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.task_name}.yaml"
        path.write_text(self.yaml(), encoding="utf-8")
        return path

    def command(self, include_path: str = TASK_DIR) -> str:
        model_args = ",".join(f"{k}={v}" for k, v in self.model_args.items())
        parts = ["lm-eval", "run", "--model", "hf", "--model_args", model_args,
                 "--tasks", self.task_name, "--include_path", include_path,
                 "--num_fewshot", str(self.run_args["num_fewshot"]),
                 "--batch_size", str(self.run_args["batch_size"])]
        if self.run_args.get("device"):
            parts += ["--device", self.run_args["device"]]
        if self.run_args["apply_chat_template"]:
            parts += ["--apply_chat_template",
                      "--fewshot_as_multiturn", str(self.run_args["fewshot_as_multiturn"]).lower()]
        if self.run_args.get("system_instruction"):
            parts += ["--system_instruction", self.run_args["system_instruction"]]
        if self.run_args.get("limit"):
            parts += ["--limit", str(self.run_args["limit"])]
        seed = self.run_args.get("fewshot_seed", LMEVAL_FEWSHOT_SEED)
        if self.config.get("fewshot_config", {}).get("sampler") == "default" and seed != LMEVAL_FEWSHOT_SEED:
            parts += ["--seed", f"0,1234,1234,{seed}"]   # random, numpy, torch (lm-eval's defaults), few-shot
        return shlex.join(parts)


LMEVAL_FEWSHOT_SEED = 1234   # lm-eval's default few-shot seed (--seed's fourth number)


def _labels(style: str) -> list[str]:
    if style == "A":
        return [chr(65 + i) for i in range(MAX_LABELS)]
    if style == "a":
        return [chr(97 + i) for i in range(MAX_LABELS)]
    if style == "1":
        return [str(i + 1) for i in range(MAX_LABELS)]
    if style == "I":
        return list(ROMAN)
    return [""] * MAX_LABELS


def _prelude(setup: Setup, mapping: dict[str, str], kind: str) -> str:
    """Jinja that defines scoregap's template variables from a raw lm-eval doc."""
    p = setup.prompt
    out = f"{{% set question = {mapping['question']} %}}"
    if kind != "multiple_choice":
        return out
    out += f"{{% set choice_list = {mapping['choices']} %}}"
    out += f"{{% set labels = {json.dumps(_labels(p.choice_labels))}[:choice_list|length] %}}"
    item = "{{ text }}" if p.choice_labels == "none" else p.choice_format
    out += (
        "{% set choices %}{% for text in choice_list %}{% set label = labels[loop.index0] %}"
        f"{item}{{% if not loop.last %}}{{{{ {json.dumps(p.choice_separator)} }}}}{{% endif %}}"
        "{% endfor %}{% endset %}"
    )
    return out


def export(setup: Setup, task: Task, *, model: str, limit: int = 0, name: str = "") -> LmEvalExport:
    p, f, c, s, g, ld = setup.prompt, setup.fewshot, setup.chat, setup.scoring, setup.generation, setup.loading
    unsupported: list[str] = []
    if f.k and f.sampler == "random":
        unsupported.append("fewshot.sampler = random (lm-eval draws shots in doc order from one generator)")
    elif f.k and f.sampler == "stream_excluding":
        unsupported.append("fewshot.sampler = stream_excluding (lm-eval excludes the doc from its own draw only "
                           "when a task names neither a few-shot nor a test split; the exported task names one)")
    if f.k and f.order != "sampled":
        unsupported.append(f"fewshot.order = {f.order}")
    if c.apply_template and c.description_in == "user":
        unsupported.append("chat.description_in = user (lm-eval puts the description in the system message)")
    if s.aggregate == "macro":
        unsupported.append("scoring.aggregate = macro (lm-eval averages one task's docs; macro needs a group)")
    mapping = dict(task.fields)
    prelude = _prelude(setup, mapping, task.kind)
    task_name = name or f"scoregap_{safe_name(task.name)}_{setup.digest[:8]}"
    config: dict[str, Any] = {"task": task_name}
    if task.docs_file:
        files = {"test": task.docs_file}
        if task.fewshot_file:
            files["train"] = task.fewshot_file
        config.update(dataset_path="json", dataset_kwargs={"data_files": files}, test_split="test")
        if "train" in files:
            config["fewshot_split"] = "train"
    else:
        config.update(dataset_path=setup.task.hf, test_split=setup.task.split)
        if setup.task.subset:
            config["dataset_name"] = setup.task.subset
        if setup.task.fewshot_split:
            config["fewshot_split"] = setup.task.fewshot_split
    config["doc_to_text"] = prelude + p.template
    if p.description:
        config["description"] = prelude + p.description
    config["target_delimiter"] = p.target_delimiter
    config["fewshot_delimiter"] = p.fewshot_delimiter
    # "stream" is lm-eval's own default sampler (one generator seeded with the few-shot seed)
    config["fewshot_config"] = {"sampler": "default" if f.sampler == "stream" else "first_n"}
    if task.kind == "multiple_choice":
        config["output_type"] = "multiple_choice"
        if p.target == "text":
            config["doc_to_choice"] = mapping["choices"]
        elif p.target == "label":
            config["doc_to_choice"] = prelude + "{{ labels }}"
        else:
            config["doc_to_choice"] = (
                prelude + "[{% for text in choice_list %}{% set label = labels[loop.index0] %}"
                f"{{% set item %}}{p.choice_format}{{% endset %}}{{{{ item|tojson }}}}"
                "{% if not loop.last %}, {% endif %}{% endfor %}]"
            )
        config["doc_to_target"] = mapping["gold"]
        metrics = ["acc", "acc_norm", "acc_bytes"] + (["acc_mutual_info"] if s.metric == "acc_mutual_info" else [])
    else:
        config["output_type"] = "generate_until"
        config["doc_to_target"] = mapping.get("target", mapping["gold"])
        config["generation_kwargs"] = {
            "until": list(g.stop), "max_gen_toks": g.max_new_tokens,
            "do_sample": g.temperature > 0, "temperature": g.temperature,
        }
        if s.extract != "none" or s.normalize:
            unsupported.append("scoring.extract/normalize (write an lm-eval filter_list by hand)")
        metrics = ["exact_match"]
        if s.metric != "exact_match":
            unsupported.append(f"scoring.metric = {s.metric}")
    config["metric_list"] = [
        {"metric": m, "aggregation": "mean", "higher_is_better": True} for m in metrics
    ]
    model_args: dict[str, Any] = {"pretrained": model, "dtype": ld.dtype}
    if ld.add_bos_token != "auto":
        model_args["add_bos_token"] = ld.add_bos_token == "true"
    if ld.trust_remote_code:
        model_args["trust_remote_code"] = True
    run_args = {
        "num_fewshot": f.k,
        "batch_size": ld.batch_size,
        "device": "" if ld.device == "auto" else ld.device,
        "apply_chat_template": c.apply_template,
        "fewshot_as_multiturn": c.apply_template and f.multiturn,
        "system_instruction": c.system_prompt or None,
        "limit": limit or setup.task.limit or None,
        "fewshot_seed": f.seed,
    }
    return LmEvalExport(task_name, config, model_args, run_args, tuple(unsupported))


def with_include_path(command: str, folder: str) -> str:
    """`command` (an `lm-eval run` line) with its --include_path set to `folder`."""
    argv = shlex.split(command)
    if "--include_path" in argv:
        argv[argv.index("--include_path") + 1] = folder
    return shlex.join(argv)


def shell_lines(command: str, width: int = 80) -> str:
    """A shell command in lines of at most `width` columns where the arguments allow, continued
    with a backslash; an option stays with its value, and nothing is ever cut inside an argument
    (a path longer than the width gets a line of its own)."""
    argv = [shlex.quote(a) for a in shlex.split(command)]
    pieces: list[str] = []
    for arg in argv:
        pair = pieces[-1] + " " + arg if pieces else ""
        if (pieces and pieces[-1].startswith("--") and " " not in pieces[-1] and not arg.startswith("--")
                and len(pair) + 6 <= width):
            pieces[-1] = pair
        else:
            pieces.append(arg)
    lines: list[str] = []
    for piece in pieces:
        if lines and len(lines[-1]) + 1 + len(piece) + 2 <= width:
            lines[-1] += " " + piece
        else:
            lines.append(("    " if lines else "") + piece)
    return " \\\n".join(lines)
