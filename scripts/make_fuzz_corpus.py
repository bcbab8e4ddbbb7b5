"""Write the fuzz corpus under `tests/fuzz/cases/`: malformed inputs that must each end in one
clear paragraph and exit code 2, never a traceback, a hang or a silently wrong number.

Why a corpus kept in the project rather than a fuzzer run in CI: every case here was (or is) a
real failure found by hand or by fuzzing — a RecursionError from 100,000 nested brackets, a
symlink loop, a NaN score accepted, a template that multiplies a string to 2 GB. Kept as files,
each one is a regression test that reads like a bug report, and a new failure is added here in one
function call.

Each case is a folder: the input files (a setup, a task with its JSON Lines, a session, a model
directory) and `case.toml`:

    about = "what is malformed and what used to happen"
    command = ["eval", "setup.toml", "--model", "{model}"]   # or ["diagnose", "session.toml"]
    expect = ["setup.toml, line 3", "loading.device"]         # fragments of the message
    model = "fake"          # "fake" | "tiny" | "tiny-truncated" | "none": what {model} and @MODEL@ are
    needs = ""              # "" : any machine; "no-cuda": skipped where CUDA is present
    [links]                 # symbolic links made when the case runs (name = target)
    [expand]                # big inputs made when the case runs: in FILE, MARKER -> TEXT * TIMES
    "setup.toml" = { marker = "@BIG@", text = "x", times = 10000000 }

Inputs over ~300 KB are never committed: `[expand]` writes them into the test's temporary folder,
and links are made there too (a checkout may not keep symbolic links). `needs = "no-cuda"` marks a
case that is malformed only where CUDA is absent (`device = "cuda"`): it is skipped on a GPU box.

    python scripts/make_fuzz_corpus.py             # rewrite tests/fuzz/cases/ (deterministic)
    python scripts/make_fuzz_corpus.py --out DIR   # elsewhere
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "tests" / "fuzz" / "cases"
DEEP = 100_000
BIG = 10_000_000

Files = dict[str, str | bytes]


@dataclass
class Case:
    name: str
    about: str
    files: Files
    expect: list[str]
    command: list[str] = field(default_factory=lambda: ["eval", "setup.toml", "--model", "{model}"])
    model: str = "fake"
    needs: str = ""
    links: dict[str, str] = field(default_factory=dict)
    expand: dict[str, dict[str, Any]] = field(default_factory=dict)

    def meta(self) -> dict[str, Any]:
        data: dict[str, Any] = {"about": self.about, "command": self.command, "expect": self.expect,
                                "model": self.model, "needs": self.needs}
        if self.links:
            data["links"] = self.links
        if self.expand:
            data["expand"] = self.expand
        return data


# -- valid building blocks ----------------------------------------------------------------------

MC_ROWS = [
    {"question": "Which is a colour?", "choices": ["red", "dog", "run", "ten"], "answer": 0},
    {"question": "Which is a number?", "choices": ["cat", "six", "sky", "hop"], "answer": 1},
]
QA_ROWS = [{"question": "What is 2 + 2?", "answer": "4"}, {"question": "What is 3 + 4?", "answer": "7"}]
MC_TASK = 'name = "t"\nkind = "multiple_choice"\ndocs = "t.test.jsonl"\n'
QA_TASK = 'name = "q"\nkind = "generate"\ndocs = "q.test.jsonl"\n'
SETUP = '[task]\npath = "task/t.toml"\n\n[loading]\nbackend = "fake"\n'
QA_SETUP = ('[task]\npath = "task/q.toml"\n\n[scoring]\nmethod = "generate"\nmetric = "exact_match"\n\n'
            '[loading]\nbackend = "fake"\n')
SESSION_HEAD = '[model]\npath = "@MODEL@"\n\n[yours]\nsetup = "setup.toml"\n\n'
SESSION = SESSION_HEAD + '[reported]\nscore = 61.9\nsource = "model card"\n'   # 9 lines
DIAGNOSE = ["diagnose", "session.toml", "--report", "report"]
KEEP = "This folder is part of the case: it must exist.\n"


def jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def mc_task(rows: list[dict[str, Any]] | None = None, toml: str = MC_TASK) -> Files:
    return {"task/t.toml": toml, "task/t.test.jsonl": jsonl(rows or MC_ROWS)}


def qa_task(rows: list[dict[str, Any]] | None = None, toml: str = QA_TASK) -> Files:
    return {"task/q.toml": toml, "task/q.test.jsonl": jsonl(rows or QA_ROWS)}


def setup_case(name: str, about: str, setup: str, expect: list[str], **extra: Any) -> Case:
    """A setup (with a valid multiple-choice task beside it) run by `eval`."""
    files: Files = {**mc_task(), "setup.toml": setup, **extra.pop("files", {})}
    return Case(name, about, files, expect, **extra)


def task_case(name: str, about: str, files: Files, expect: list[str], setup: str = SETUP, **extra: Any) -> Case:
    """A task (its TOML and JSON Lines) run by `eval` under a plain setup."""
    return Case(name, about, {"setup.toml": setup, **files}, expect, **extra)


def session_case(name: str, about: str, session: str, expect: list[str], **extra: Any) -> Case:
    """A session run by `diagnose` (its setup and task valid unless the case says otherwise)."""
    files: Files = {**mc_task(), "setup.toml": SETUP, "session.toml": session, **extra.pop("files", {})}
    return Case(name, about, files, expect, command=DIAGNOSE, **extra)


# -- the cases ----------------------------------------------------------------------------------


def toml_cases() -> list[Case]:
    nested = "x = " + "[" * DEEP + "\n"
    return [
        setup_case("setup_nested_brackets", f"{DEEP:,} nested [ in a setup: RecursionError in tomllib.",
                   nested, ["setup.toml", "nested"]),
        setup_case("setup_nested_inline_tables", "100,000 nested inline tables in a setup (RecursionError).",
                   "x = @DEEP@\n", ["setup.toml", "nested"],
                   expand={"setup.toml": {"marker": "@DEEP@", "text": "{a=", "times": DEEP}}),
        task_case("task_nested_brackets", f"{DEEP:,} nested [ in a task file (RecursionError).",
                  {"task/t.toml": "x = @DEEP@\n", "task/t.test.jsonl": jsonl(MC_ROWS)}, ["t.toml", "nested"],
                  expand={"task/t.toml": {"marker": "@DEEP@", "text": "[", "times": DEEP}}),
        session_case("session_nested_brackets", f"{DEEP:,} nested [ in a session file (RecursionError).",
                     "x = @DEEP@\n", ["session.toml", "nested"],
                     expand={"session.toml": {"marker": "@DEEP@", "text": "[", "times": DEEP}}),
        setup_case("setup_bom_then_error", "A UTF-8 BOM opens the setup: it was 'Invalid statement (line 1, "
                   "column 1)'; the BOM is accepted and the real error (line 3) is found.",
                   '\ufeff[fewshot]\nk = 1\nsampler = "randm"\n', ["setup.toml, line 3", "randm"]),
        setup_case("setup_invalid_utf8", "Bytes that are not UTF-8 on line 2 of a setup.",
                   "", ["setup.toml", "line 2", "UTF-8"],
                   files={"setup.toml": b'[prompt]\ndescription = "caf\xe9"\n'}),
        setup_case("setup_ten_megabytes", "A 10 MB prompt.description ran for minutes (tokenizing it).",
                   '[task]\npath = "task/t.toml"\n[loading]\nbackend = "fake"\n[prompt]\ndescription = "@BIG@"\n',
                   ["setup.toml", "bytes"],
                   expand={"setup.toml": {"marker": "@BIG@", "text": "x", "times": BIG}}),
    ]


def path_cases() -> list[Case]:
    return [
        setup_case("setup_argument_is_a_directory", "The SETUP argument is a directory: was 'not found'.",
                   SETUP, ["adir", "directory"], command=["eval", "adir", "--model", "{model}"],
                   files={"adir/README": KEEP}),
        setup_case("setup_argument_symlink_loop", "The SETUP argument is a symbolic link to itself.",
                   SETUP, ["loop.toml", "symbolic link"], command=["eval", "loop.toml", "--model", "{model}"],
                   links={"loop.toml": "loop.toml"}),
        setup_case("extends_a_directory", "extends names a directory: was 'not found'.",
                   'extends = "parent"\n' + SETUP, ["parent", "directory"], files={"parent/README": KEEP}),
        setup_case("extends_symlink_loop", "extends names a symbolic link to itself.",
                   'extends = "loop.toml"\n' + SETUP, ["loop.toml", "symbolic link"],
                   links={"loop.toml": "loop.toml"}),
        setup_case("task_path_is_a_directory", "task.path names a directory: was 'not found'.",
                   SETUP.replace("task/t.toml", "task"), ["setup.toml, line 2", "task.path", "directory", "t.toml"]),
        setup_case("task_path_symlink_loop", "task.path is a symbolic link loop: RuntimeError in resolve().",
                   SETUP.replace("task/t.toml", "loop.toml"), ["setup.toml, line 2", "loop.toml", "symbolic link"],
                   links={"loop.toml": "loop.toml"}),
        task_case("docs_is_a_directory", "docs names a directory: IsADirectoryError.",
                  {"task/t.toml": MC_TASK.replace("t.test.jsonl", "data"), "task/data/README": KEEP},
                  ["t.toml", "docs", "directory"]),
        task_case("docs_symlink_loop", "docs is a symbolic link to itself: OSError (ELOOP).",
                  {"task/t.toml": MC_TASK.replace("t.test.jsonl", "loop.jsonl")},
                  ["loop.jsonl", "symbolic link"], links={"task/loop.jsonl": "loop.jsonl"}),
        task_case("fewshot_is_a_directory", "fewshot names a directory: IsADirectoryError.",
                  {**mc_task(toml=MC_TASK + 'fewshot = "pool"\n'), "task/pool/README": KEEP},
                  ["t.toml", "fewshot", "directory"]),
        session_case("session_model_symlink_loop", "model.path is a symbolic link loop: RuntimeError.",
                     SESSION.replace("@MODEL@", "./mloop"), ["mloop", "symbolic link"],
                     links={"mloop": "mloop"}, model="none"),
        setup_case("model_path_is_a_file", "--model names a file: was 'no such directory'.",
                   SETUP, ["weights.bin", "is a file", "config.json"], model="none",
                   command=["eval", "setup.toml", "--model", "./weights.bin"], files={"weights.bin": "not a model\n"}),
        setup_case("model_path_symlink_loop", "--model names a symbolic link loop.",
                   SETUP, ["mloop", "symbolic link"], model="none",
                   command=["eval", "setup.toml", "--model", "./mloop"], links={"mloop": "mloop"}),
        setup_case("model_weights_truncated", "model.safetensors cut in half: a traceback from safetensors.",
                   SETUP.replace('"fake"', '"transformers"'), ["model.safetensors"],
                   model="tiny-truncated"),
        setup_case("session_model_is_a_file", "A session's model.path names a file.", SETUP,
                   ["weights.bin", "is a file"], model="none", command=DIAGNOSE,
                   files={"weights.bin": "not a model\n",
                          "session.toml": SESSION.replace("@MODEL@", "./weights.bin")}),
    ]


def setup_value_cases() -> list[Case]:
    def loading(line: str) -> str:
        return '[task]\npath = "task/t.toml"\n\n[loading]\nbackend = "fake"\n' + line + "\n"

    def generation(line: str) -> str:
        return QA_SETUP + "\n[generation]\n" + line + "\n"

    cases = [
        setup_case(f"device_{slug}", f"loading.device = {value}: a traceback from torch.", loading(f"device = {value}"),
                   ["setup.toml, line 6", "loading.device", "cuda:N"])
        for slug, value in (("tpu99", '"tpu:99"'), ("question_marks", '"???"'), ("cpu0", '"cpu:0"'),
                            ("cuda_minus", '"cuda:-1"'), ("empty", '""'))
    ]
    cases.append(setup_case("device_cuda_without_cuda", 'loading.device = "cuda" on a machine without CUDA.',
                            loading('device = "cuda"').replace('"fake"', '"transformers"'), ["cuda"],
                            model="tiny", needs="no-cuda"))
    for slug, line, key in (("temperature_nan", "temperature = nan", "generation.temperature"),
                            ("temperature_inf", "temperature = inf", "generation.temperature"),
                            ("top_p_nan", "top_p = nan", "generation.top_p")):
        cases.append(Case(slug, f"{line}: accepted silently.", {**qa_task(), "setup.toml": generation(line)},
                          ["setup.toml, line 12", key, "finite"]))
    cases.append(setup_case("truncation_unknown", 'loading.truncation = "right": only "error" and "left".',
                            loading('truncation = "right"'), ["setup.toml, line 6", "loading.truncation", '"left"']))
    cases.append(setup_case("roman_labels_thirteen_choices",
                            'prompt.choice_labels = "I" and a doc with 13 choices: the message named no file or doc.',
                            SETUP + '\n[prompt]\nchoice_labels = "I"\n', ["t.test.jsonl, line 2", "13 choices"],
                            files=mc_task(MC_ROWS[:1] + [{"question": "Pick one.",
                                                          "choices": [f"c{i}" for i in range(13)], "answer": 0}])))
    return cases


BOMBS = {
    "template_string_times": ("template", "{{ 'x' * 2000000000 }}"),
    "template_list_times": ("template", "{{ (['x'] * 2000000000) | join }}"),
    "template_center": ("template", "{{ 'x'.center(2000000000) }}"),
    "template_center_filter": ("template", "{{ 'x' | center(2000000000) }}"),
    "template_percent_format": ("template", "{{ '%2000000000d' % 1 }}"),
    "template_str_format": ("template", "{{ '{:2000000000}'.format(1) }}"),
    "template_power": ("template", "{{ 7 ** 2000000000 }}"),
    "template_doubling": ("template", ("{% set ns = namespace(s='xx') %}{% for i in range(40) %}"
                                       "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}")),
    "template_nested_loops": ("template", ("{% for i in range(100000) %}{% for j in range(100000) %}x"
                                           "{% endfor %}{% endfor %}")),
    "template_replace": ("template", "{{ ('x' * 900000) | replace('', 'yy') }}"),
    "description_string_times": ("description", "{{ 'x' * 2000000000 }}"),
    "choice_format_string_times": ("choice_format", "{{ label }}. {{ text * 2000000000 }}"),
}


def template_cases() -> list[Case]:
    cases = []
    for name, (key, source) in BOMBS.items():
        setup = SETUP + "\n[prompt]\n" + tomli_w.dumps({key: source})
        cases.append(setup_case(name, f"prompt.{key} = {source!r} passed the sandbox and hung (or ate memory).",
                                setup, [f"prompt.{key}", "1,000,000"]))
    return cases


def task_cases() -> list[Case]:
    bad_utf8 = jsonl(MC_ROWS[:1]).encode() + b'{"question": "caf\xe9?", "choices": ["a"], "answer": 0}\n'
    deep = "[" * DEEP + "]" * DEEP
    deep_row = '{"question": "q", "choices": ["a", "b"], "answer": 0, "extra": ' + deep + "}\n"
    surrogate = '{"question": "bad \\ud800 text", "choices": ["a", "b"], "answer": 0}\n'
    surrogate_choice = '{"question": "fine", "choices": ["a", "b\\udc00"], "answer": 0}\n'
    return [
        task_case("fields_question_a_list", '[fields] question = ["question"]: TypeError (unhashable list).',
                  mc_task(toml=MC_TASK + '[fields]\nquestion = ["question"]\n'),
                  ["t.toml, line 5", "fields", "question", "string"]),
        task_case("fields_gold_a_table", "[fields] gold = { a = 1 }: TypeError (unhashable dict).",
                  mc_task(toml=MC_TASK + "[fields]\ngold = { a = 1 }\n"), ["t.toml, line 5", "gold", "string"]),
        task_case("task_name_a_table", "name = {a = 1} in a task file: accepted, a dict as the task's name.",
                  mc_task(toml=MC_TASK.replace('name = "t"', "name = {a = 1}")), ["t.toml, line 1", "name", "string"]),
        task_case("task_name_a_number", "name = 123 in a task file: accepted.",
                  mc_task(toml=MC_TASK.replace('name = "t"', "name = 123")), ["t.toml, line 1", "name", "string"]),
        task_case("task_description_a_number", "description = 5 in a task file: accepted.",
                  mc_task(toml=MC_TASK + "description = 5\n"), ["t.toml, line 4", "description", "string"]),
        task_case("task_kind_a_list", "kind = [1] in a task file.",
                  mc_task(toml=MC_TASK.replace('"multiple_choice"', "[1]")), ["t.toml", "kind"]),
        task_case("jsonl_invalid_utf8", "Invalid UTF-8 on line 2 of the docs: UnicodeDecodeError.",
                  {"task/t.toml": MC_TASK, "task/t.test.jsonl": bad_utf8}, ["t.test.jsonl, line 2", "UTF-8"]),
        task_case("jsonl_nested_100k", f"A value nested {DEEP:,} deep on line 2: RecursionError in json.",
                  {"task/t.toml": MC_TASK, "task/t.test.jsonl": jsonl(MC_ROWS[:1]) + deep_row},
                  ["t.test.jsonl, line 2", "nested"]),
        task_case("jsonl_lone_surrogate_question", 'A lone surrogate "\\ud800" in a question: '
                  "UnicodeEncodeError later, when requests were hashed.",
                  {"task/t.toml": MC_TASK, "task/t.test.jsonl": surrogate},
                  ["t.test.jsonl, line 1", '"question"', "surrogate"]),
        task_case("jsonl_lone_surrogate_choice", "A lone surrogate in a choice.",
                  {"task/t.toml": MC_TASK, "task/t.test.jsonl": jsonl(MC_ROWS[:1]) + surrogate_choice},
                  ["t.test.jsonl, line 2", '"choices[1]"', "surrogate"]),
        task_case("gold_nan", 'A generate task whose gold is NaN: scored against the answer "nan".',
                  {"task/q.toml": QA_TASK,
                   "task/q.test.jsonl": jsonl(QA_ROWS[:1]) + '{"question": "x", "answer": NaN}\n'},
                  ["q.test.jsonl, line 2", '"answer"', "finite"], setup=QA_SETUP),
        task_case("gold_infinity_list", 'A generate task whose gold is [Infinity]: the answer "inf".',
                  {"task/q.toml": QA_TASK, "task/q.test.jsonl": '{"question": "x", "answer": [Infinity]}\n'},
                  ["q.test.jsonl, line 1", '"answer"', "finite"], setup=QA_SETUP),
        task_case("gold_a_float", "A generate task whose gold is 2.5: compared as the string '2.5'.",
                  {"task/q.toml": QA_TASK, "task/q.test.jsonl": '{"question": "x", "answer": 2.5}\n'},
                  ["q.test.jsonl, line 1", '"answer"', "integer"], setup=QA_SETUP),
        task_case("question_ten_megabytes", "A 10 MB question ran for over a minute (tokenizing it).",
                  {"task/t.toml": MC_TASK,
                   "task/t.test.jsonl": '{"question": "@BIG@", "choices": ["a"], "answer": 0}\n'},
                  ["t.test.jsonl, line 1", "characters"],
                  expand={"task/t.test.jsonl": {"marker": "@BIG@", "text": "x", "times": BIG}}),
    ]


def session_cases() -> list[Case]:
    def reported(line: str, extra: str = "") -> str:
        """The session with `line` as line 8, the first of [reported]."""
        return SESSION_HEAD + f'[reported]\n{line}\n{extra}source = "model card"\n'

    cases = [
        session_case(f"reported_score_{slug}", f"reported.score = {value}: {why}", reported(f"score = {value}"),
                     ["session.toml, line 8", "reported.score", allowed])
        for slug, value, why, allowed in (
            ("nan", "nan", "exit 0 and a report with a bare NaN.", "finite"),
            ("inf", "inf", "exit 0 and a report with inf.", "finite"),
            ("negative", "-5", "accepted.", "0 and 1"),
            ("huge", "1e308", "accepted as a percentage.", "0 and 100"),
            ("auto_above_100", "150", "accepted as 150%.", "percent"),
        )
    ]
    cases += [
        session_case("reported_score_fraction_above_one", 'scale = "fraction" and score = 1.5: accepted.',
                     reported("score = 1.5", 'scale = "fraction"\n'), ["session.toml, line 8", "0 and 1", "fraction"]),
        session_case("reported_score_percent_negative", 'scale = "percent" and score = -1: accepted.',
                     reported("score = -1", 'scale = "percent"\n'), ["session.toml, line 8", "0 and 100"]),
        session_case("yours_score_nan", "yours.score = nan: silently ignored.",
                     SESSION.replace('setup = "setup.toml"\n', 'setup = "setup.toml"\nscore = nan\n'),
                     ["session.toml, line 6", "yours.score", "finite"]),
        session_case("yours_score_negative", "yours.score = -3: accepted.",
                     SESSION.replace('setup = "setup.toml"\n', 'setup = "setup.toml"\nscore = -3\n'),
                     ["session.toml, line 6", "yours.score"]),
        session_case("reported_setup_missing", 'reported.setup = "nope/preset": ignored until a check needed it.',
                     SESSION + 'setup = "nope/preset"\n', ["session.toml, line 10", "reported.setup", "nope/preset"]),
        session_case("reported_setup_invalid", "reported.setup names a setup with a bad value.",
                     SESSION + 'setup = "theirs.toml"\n', ["theirs.toml, line 7", "fewshot.k"],
                     files={"theirs.toml": SETUP + "[fewshot]\nk = -1\n"}),
        session_case("known_wrong_type_line", 'A [reported.known] value of the wrong type said "line ?".',
                     SESSION + '\n[reported.known]\n"fewshot.k" = "five"\n', ["session.toml, line 12", "fewshot.k"]),
        session_case("known_temperature_nan", "[reported.known] generation.temperature = nan.",
                     SESSION + '\n[reported.known]\n"generation.temperature" = nan\n',
                     ["session.toml, line 12", "generation.temperature", "finite"]),
        session_case("dotted_key_wrong_type", "A dotted key (reported.score = ...) of the wrong type: 'line ?'.",
                     'reported.score = "high"\nreported.source = "card"\n' + SESSION_HEAD,
                     ["session.toml, line 1", "reported.score", "number"]),
        session_case("checks_not_strings", "diagnosis.checks = [1, 2].",
                     SESSION + "\n[diagnosis]\nchecks = [1, 2]\n", ["session.toml, line 12", "diagnosis.checks"]),
        session_case("session_bom_then_error", "A BOM opens the session; the error on line 3 is found.",
                     "\ufeff" + SESSION.replace('path = "@MODEL@"', 'path = "@MODEL@"\nrevison = "main"'),
                     ["session.toml, line 3", "revision"]),
        session_case("session_yours_setup_directory", "yours.setup names a directory: was 'not found'.",
                     SESSION.replace('setup = "setup.toml"', 'setup = "adir"'), ["adir", "directory"],
                     files={"adir/README": KEEP}),
    ]
    return cases


def all_cases() -> list[Case]:
    return toml_cases() + path_cases() + setup_value_cases() + template_cases() + task_cases() + session_cases()


def write_case(case: Case, out: Path) -> None:
    folder = out / case.name
    folder.mkdir(parents=True)
    for name, content in case.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8", "surrogatepass"))
    (folder / "case.toml").write_text(tomli_w.dumps(case.meta()), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the cases")
    args = parser.parse_args(argv)
    cases = all_cases()
    names = [c.name for c in cases]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise SystemExit(f"duplicate case names: {', '.join(sorted(duplicates))}")
    if args.out.exists():
        shutil.rmtree(args.out)
    for case in cases:
        write_case(case, args.out)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"wrote {len(cases)} cases ({size / 1000:.0f} KB) to {args.out}")


if __name__ == "__main__":
    main()
