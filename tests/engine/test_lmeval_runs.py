"""Reading lm-eval outputs without a model: what is rebuilt, what is said, what is refused.

The files are written here in lm-eval 0.4.13's layout (the keys its EvaluationTracker writes,
as tests/integration/test_import_runs.py produces them for real); each case changes one thing.
"""

from __future__ import annotations

import json

import pytest
from lmeval_outputs import STAMP, write_run
from lmeval_outputs import task_config as _config

from scoregap.engine.errors import InputError
from scoregap.engine.lmeval_runs import model_args, read_lmeval
from scoregap.engine.presets import load_setup
from scoregap.engine.run_import import import_runs
from scoregap.engine.run_comparison import compare_runs, match_docs
from scoregap.engine.runs import LoggedDoc, LoggedRun
from scoregap.engine.session import load_session
from scoregap.tui.cli import main


def test_a_local_task_is_rebuilt_key_by_key_and_the_run_settings_become_facts(tmp_path):
    run, recon = read_lmeval(write_run(tmp_path / "out", shots=2))
    assert (run.task, run.metric, run.filter, round(run.score, 4)) == ("arith_local", "acc", "none", 0.3333)
    assert run.model == "/models/tiny" and len(run.docs) == 3
    assert run.docs[0].requests[1] == ("Question: What is 46 plus 51?\nAnswer:", " eighty-seven")
    assert run.docs[0].loglikelihoods == (-1.0, -2.0, -3.0, -4.0) and run.docs[1].correct == 0.0
    assert recon.extends == "lm-eval/base" and recon.task_file["docs"].endswith("arith.test.jsonl")
    v = recon.values
    assert (v["fewshot.k"], v["fewshot.sampler"], v["loading.dtype"], v["loading.batch_size"], v["task.limit"]) == (
        2, "stream", "bfloat16", 8, 3)
    assert v["task.fields"] == {"question": "question", "choices": "choices", "gold": "answer"}
    assert any("cuda:0" in line for line in recon.unrepresentable)         # said, not dropped
    assert run.facts["fewshot.k"] == 2 and "task.path" not in run.facts
    load_setup("lm-eval/base").with_values({k: x for k, x in v.items() if k != "task.path"})


def test_a_vllm_run_rebuilds_the_vllm_backend_with_its_settings(tmp_path):
    folder = write_run(tmp_path / "out")
    results = next(folder.rglob("results_*.json"))
    data = json.loads(results.read_text())
    data["config"].update(model="vllm", model_args="pretrained=/m,tensor_parallel_size=2,gpu_memory_utilization=0.8,"
                                                   "max_model_len=4096,enforce_eager=True,data_parallel_size=2")
    results.write_text(json.dumps(data))
    run, recon = read_lmeval(folder)
    v = recon.values
    assert (v["loading.backend"], v["loading.tensor_parallel_size"], v["loading.gpu_memory_utilization"],
            v["loading.max_model_len"], v["loading.enforce_eager"]) == ("vllm", 2, 0.8, 4096, True)
    assert run.facts["loading.backend"] == "vllm"                 # a stated fact when it is the reported run
    assert any("data_parallel_size=2" in line for line in recon.unrepresentable)
    load_setup("lm-eval/base").with_values({k: x for k, x in v.items() if k.startswith("loading.")})


def test_the_metric_and_filter_can_be_chosen_and_a_missing_one_is_named(tmp_path):
    folder = write_run(tmp_path / "out")
    assert read_lmeval(folder, metric="acc_norm")[0].score == 1.0
    with pytest.raises(InputError, match=r'no score "f1".*acc,none, acc_norm,none'):
        read_lmeval(folder, metric="f1")


def test_model_args_are_read_from_the_cli_string_or_a_dict():
    assert model_args("pretrained=a/b,revision=r1,dtype=float16") == {"pretrained": "a/b", "revision": "r1",
                                                                      "dtype": "float16"}
    assert model_args({"pretrained": "x"}) == {"pretrained": "x"} and model_args(None) == {}


def test_a_template_reading_a_shadowed_field_reads_it_through_doc(tmp_path):
    text = "{% for c in choices %}{{ c }}\n{% endfor %}{{ question }}"
    _, recon = read_lmeval(write_run(tmp_path / "out", config=_config(doc_to_text=text)))
    assert recon.values["prompt.template"] == "{% for c in doc.choices %}{{ c }}\n{% endfor %}{{ question }}"


def test_python_in_the_config_is_listed_as_not_expressible(tmp_path):
    _, recon = read_lmeval(write_run(tmp_path / "out", config=_config(process_docs="def process_docs(ds): ...")))
    assert any(line.startswith("process_docs is Python") for line in recon.unrepresentable)


@pytest.mark.parametrize("case, message", [
    ("empty folder", r"holds no results_\*\.json file"),
    ("lighteval file", "looks like lighteval's"),
    ("task not in file", 'no task "hellaswag" in this run. Its tasks: arith_local'),
    ("samples from another run", "2 samples, but the results file"),
    ("broken json", "not valid JSON"),
])
def test_bad_input_is_one_clear_error(case, message, tmp_path, capsys):
    folder = tmp_path / "out"
    task = ""
    if case == "empty folder":
        folder.mkdir()
    elif case == "lighteval file":
        folder.mkdir()
        (folder / "results_x.json").write_text(json.dumps({"config_general": {}, "results": {}}))
    elif case == "task not in file":
        write_run(folder)
        task = "hellaswag"
    elif case == "samples from another run":
        write_run(folder, samples=2)
    else:
        folder.mkdir()
        (folder / "results_x.json").write_text("{\"results\": ")
    with pytest.raises(InputError, match=message):
        read_lmeval(folder, task)
    args = ["import", "lm-eval", str(folder), "--reported", "61.9", "--out", str(tmp_path / "s.toml")]
    assert main(args + (["--task", task] if task else [])) == 2      # the command: one paragraph, exit 2
    err = capsys.readouterr().err
    assert err.startswith("scoregap: error:") and "Traceback" not in err and "\n\n" not in err.strip(), err


def test_the_import_command_writes_a_session_and_refuses_to_overwrite_it(tmp_path, capsys):
    yours, theirs = write_run(tmp_path / "a"), write_run(tmp_path / "b", shots=5, chat=True)
    out = tmp_path / "s" / "session.toml"
    out.parent.mkdir()
    code = main(["import", "lm-eval", str(yours), "--reported-run", str(theirs), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    session = load_session(out)
    assert session.yours_run.tool == "lm-eval" and session.yours_run.metric == "acc,none"
    assert session.known["fewshot.k"] == 5 and session.known["chat.apply_template"] is True
    assert session.reported_run.path == str(next((tmp_path / "b").rglob("results_*.json")))
    assert "3/3 prompts identical to the logged ones" in printed
    assert "few-shot examples (fewshot.k): yours 0, reported 5" in printed
    assert "not expressible: device cuda:0" in printed
    assert main(["import", "lm-eval", str(yours), "--reported", "61.9", "--out", str(out)]) == 2
    assert "does not overwrite" in capsys.readouterr().err
    assert main(["import", "lm-eval", str(tmp_path / "nothing"), "--reported", "61.9", "--out", str(out)]) == 2


def test_a_session_round_trips_its_runs(tmp_path):
    imported = import_runs(read_lmeval(write_run(tmp_path / "a")), tmp_path / "s.toml",
                           reported=read_lmeval(write_run(tmp_path / "b", shots=3)))
    session = load_session(imported.session)
    again = tmp_path / "again.toml"
    again.write_text(session.to_toml())
    assert load_session(again).yours_run == session.yours_run
    assert load_session(again).reported_run == session.reported_run


def test_a_session_naming_a_run_that_is_gone_says_which(tmp_path):
    imported = import_runs(read_lmeval(write_run(tmp_path / "a")), tmp_path / "s.toml", reported_score=0.5)
    for path in (tmp_path / "a").rglob("*"):
        if path.is_file():
            path.unlink()
    for path in sorted((tmp_path / "a").rglob("*"), reverse=True):
        path.rmdir()
    (tmp_path / "a").rmdir()
    with pytest.raises(InputError, match=r"yours.run: path = .* does not exist"):
        load_session(imported.session)


def _doc(i: int, question: str, context: str, correct: float, doc_hash: str = "") -> LoggedDoc:
    return LoggedDoc(i, {}, question, ((context, " a"),), correct, doc_hash=doc_hash)


def test_docs_match_by_content_not_position_and_flips_are_tested():
    mine = [_doc(0, "What is 1+1?", "Q: What is 1+1?", 1.0), _doc(1, "What is 2+2?", "Q: What is 2+2?", 0.0)]
    theirs = [_doc(0, "What is 2+2?", "shot\n\nQ: What is 2+2?", 1.0), _doc(1, "What is 1+1?", "shot\n\nQ: What is 1+1?", 1.0)]
    pairs = match_docs(mine, theirs)
    assert [(a.doc_id, b.doc_id) for a, b in pairs] == [(0, 1), (1, 0)]
    run = lambda docs, k: LoggedRun("lm-eval", "r", "t", "acc", "none", 0.5, facts={"fewshot.k": k}, docs=tuple(docs))
    c = compare_runs(run(mine, 0), run(theirs, 1))
    assert c.outcomes == {"both right": 1, "only yours": 0, "only reported": 1, "both wrong": 0}
    assert c.test.discordant == (0, 1) and c.identical_prompts == 0
    assert any("starts with 'shot↵↵', which" in line for line in c.prompt_evidence)
    # a question only held inside the other run's prompt (lighteval logs the query) still matches
    bare = [_doc(0, "no such text", "x", 1.0)]
    assert match_docs([_doc(0, "What is 2+2?", "Q: What is 2+2?", 1.0)], [_doc(0, "", "shot\n\nQ: What is 2+2?", 1.0)])
    assert match_docs(bare, theirs) == []


def test_a_task_whose_prompt_is_python_needs_a_named_setup_and_still_serves_as_reported(tmp_path):
    python = _config(doc_to_text="def doc_to_text(doc):\n    return doc['question']\n")
    run, recon = read_lmeval(write_run(tmp_path / "py", shots=5, config=python))
    assert recon.missing.startswith('task "arith_local": doc_to_text is Python') and run.facts["fewshot.k"] == 5
    with pytest.raises(InputError, match="Name your setup with --setup"):
        import_runs((run, recon), tmp_path / "s.toml", reported_score=0.5)
    imported = import_runs(read_lmeval(write_run(tmp_path / "a")), tmp_path / "t.toml", reported=(run, recon))
    session = load_session(imported.session)
    assert session.known["fewshot.k"] == 5 and not session.reported_setup      # facts kept, no setup written
    named = import_runs((run, recon), tmp_path / "u.toml", reported_score=0.5, setup="samples/arith")
    mine = load_session(named.session).yours
    assert (mine.fewshot.k, mine.loading.dtype, mine.prompt.choice_labels) == (5, "bfloat16", "A")


def test_a_nested_group_is_read_through_to_its_tasks_and_maps_to_the_catalog(tmp_path):
    import json as _json

    folder = tmp_path / "out" / "m"
    folder.mkdir(parents=True)
    subjects = ("abstract_algebra", "anatomy")
    configs = {f"mmlu_{s}": {"task": f"mmlu_{s}", "dataset_path": "cais/mmlu", "dataset_name": s, "num_fewshot": 5,
                             "metric_list": [{"metric": "acc"}], "output_type": "multiple_choice"} for s in subjects}
    results = {"mmlu": {"acc,none": 0.5}, "mmlu_stem": {"acc,none": 0.5},
               **{f"mmlu_{s}": {"acc,none": 0.5} for s in subjects}}
    data = {"results": results, "configs": configs, "group_subtasks": {"mmlu": ["mmlu_stem"], "mmlu_stem": list(configs)},
            "n-shot": {"mmlu": 5}, "config": {"model_args": "pretrained=m"}}
    (folder / f"results_{STAMP}.json").write_text(_json.dumps(data))
    for s in subjects:
        row = {"doc_id": 0, "doc": {"question": f"q {s}", "choices": ["a", "b"], "answer": 0},
               "arguments": {"gen_args_0": {"arg_0": "ctx", "arg_1": " A"}}, "resps": [[["-1.0", "False"]]], "acc": 1.0}
        (folder / f"samples_mmlu_{s}_{STAMP}.jsonl").write_text(_json.dumps(row))
    run, recon = read_lmeval(tmp_path / "out")
    assert run.task == "mmlu" and recon.extends == "lm-eval/mmlu"
    assert recon.values["fewshot.k"] == 5 and recon.values["scoring.aggregate"] == "micro"
    assert [d.subtask for d in run.docs] == list(subjects)      # the hub configs, as the preset names them


def test_a_catalog_task_keeps_what_the_run_changed_and_lists_what_no_key_says():
    """Found by an audit: a catalog task kept only its data path and revision; a run that changed
    the shots' delimiter, the sampler or the generation arguments came back as the bare preset."""
    from scoregap.engine.lmeval_setup import reconstruct

    arc = {"task": "arc_easy", "dataset_path": "allenai/ai2_arc", "dataset_name": "ARC-Easy", "num_fewshot": 3,
           "output_type": "multiple_choice", "target_delimiter": " ", "fewshot_delimiter": "\n",
           "fewshot_config": {"sampler": "first_n"}}
    recon = reconstruct("arc_easy", {"arc_easy": arc}, {}, "acc", "none")
    assert recon.extends == "lm-eval/arc_easy"
    assert (recon.values["prompt.fewshot_delimiter"], recon.values["fewshot.sampler"]) == ("\n", "first_n")
    assert "prompt.target_delimiter" not in recon.values                    # as the preset has it
    same = reconstruct("arc_easy", {"arc_easy": {**arc, "fewshot_delimiter": "\n\n", "fewshot_config": {"sampler": "default"}}},
                       {}, "acc", "none")
    assert not {"prompt.fewshot_delimiter", "fewshot.sampler"} & set(same.values)
    gsm = {"task": "gsm8k", "dataset_path": "openai/gsm8k", "dataset_name": "main", "output_type": "generate_until",
           "generation_kwargs": {"until": ["Question:", "</s>", "<|im_end|>"], "do_sample": False, "temperature": 0.0,
                                 "max_gen_toks": 512, "top_k": 5}}
    recon = reconstruct("gsm8k", {"gsm8k": gsm}, {}, "exact_match", "strict-match")
    assert recon.extends == "lm-eval/gsm8k" and recon.values["generation.max_new_tokens"] == 512
    assert "generation.stop" not in recon.values                             # the preset's stop strings
    assert any(line.startswith("generation_kwargs top_k = 5") for line in recon.unrepresentable)
    load_setup(recon.extends).with_values(dict(recon.values))                # a valid setup


def test_a_folder_with_several_results_files_says_which_it_read(tmp_path):
    """Found by an audit: lm-eval's reader took the newest results file without a word (lighteval's said)."""
    import shutil

    out = write_run(tmp_path / "out", shots=2)
    first = next(out.rglob("results_*.json"))
    later = first.with_name("results_2099-01-01T00-00-00.000000.json")
    shutil.copyfile(first, later)
    run, _ = read_lmeval(out)
    assert run.path == str(later)
    assert any(note.startswith("2 results files") and first.name in note for note in run.notes), run.notes
    alone, _ = read_lmeval(first)                      # a file named: nothing to say
    assert not any("results files" in note for note in alone.notes)


def test_the_token_view_of_the_first_differing_prompt_says_where_the_two_part():
    from scoregap.engine.backends.fake_model import FakeTokenizer
    from scoregap.engine.run_comparison import token_difference

    tok = FakeTokenizer()
    diff = token_difference(tok, "Question: 2 plus 3?\nAnswer:", "Question: 2 plus 3?\n\nAnswer:")
    a, b = tok.encode("Question: 2 plus 3?\nAnswer:"), tok.encode("Question: 2 plus 3?\n\nAnswer:")
    at = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)
    assert (diff["yours"], diff["reported"], diff["first"]) == (len(a), len(b), at) and len(b) > len(a)
    assert diff["yours_from"][0] != diff["reported_from"][0]
    assert "".join(diff["reported_from"]).startswith("\n")
    same = token_difference(tok, "Answer:", "Answer:")
    assert same["first"] == same["yours"] == same["reported"] and same["yours_from"] == []


def test_a_logged_prompt_the_rebuilt_setup_does_not_give_is_shown_with_its_whitespace(tmp_path, capsys):
    """The import's prompt check: N/M identical, and the first difference printed with visible
    spaces and newlines (a doubled newline is the kind of difference that is invisible otherwise)."""
    out = write_run(tmp_path / "a")
    samples = next(out.rglob("samples_*.jsonl"))
    lines = samples.read_text(encoding="utf-8").splitlines()
    lines[0] = lines[0].replace("?\\nAnswer:", "?\\n\\nAnswer:", 1)
    samples.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["import", "lm-eval", str(out), "--reported", "61.9", "--out", str(tmp_path / "s.toml")]) == 0
    printed = capsys.readouterr().out
    assert "2/3 prompts identical to the logged ones" in printed
    shown = printed.split("first difference, doc ", 1)[1].splitlines()
    assert shown[0].startswith("0 (␣ space, ↵ newline")
    assert [line.strip() for line in shown[1:3]] == ["--- logged", "+++ rebuilt"]
    assert "  -↵" in shown                                              # the logged extra blank line
    assert any(line.startswith("   Question:␣What␣is␣") and line.endswith("?↵") for line in shown)


def test_two_runs_are_listed_doc_by_doc_flips_first_with_both_prompts_and_where_they_part():
    from scoregap.engine.backends.fake_model import FakeTokenizer
    from scoregap.engine.run_comparison import doc_rows

    same = [_doc(i, f"What is {i}+{i}?", f"Q: What is {i}+{i}?", 1.0) for i in range(4)]
    mine = same[:2] + [_doc(2, "What is 2+2?", "Q: What is 2+2?", 0.0), _doc(3, "What is 3+3?", "Q:  What is 3+3?", 1.0)]
    pairs = match_docs(mine, same)
    rows = doc_rows(pairs)
    assert rows["docs_differing"] == 2                           # docs 0 and 1 agree in prompt and outcome
    flip, spaced = rows["docs"]
    assert (flip["doc_id"], flip["outcome"], flip["identical"], flip["parts_at"]) == (2, "only reported", True, None)
    assert (spaced["doc_id"], spaced["outcome"], spaced["parts_at"]) == (3, "both right", 3)
    assert (spaced["yours"], spaced["reported"]) == ("Q:  What is 3+3?⟨ a⟩", "Q: What is 3+3?⟨ a⟩")
    tokens = doc_rows(pairs, tokenizer=FakeTokenizer())["docs"]
    assert "tokens" not in tokens[0] and tokens[1]["tokens"]["yours"] > tokens[1]["tokens"]["reported"]
    capped = doc_rows(pairs, limit=1)
    assert capped["docs_differing"] == 2 and [r["doc_id"] for r in capped["docs"]] == [2]
    from scoregap.engine.report_formats import doc_lines_intro

    assert doc_lines_intro({**capped, "matched": 4}) == ("2 of the 4 matched docs differ in outcome or prompt "
                                                         "(the first 1 listed, flips first).")


def test_a_start_one_run_adds_is_quoted_whole_not_from_a_shared_first_letter():
    """Found walking the import: shots "Q: 1+1?" before "Question: ..." were shown as
    "every reported prompt starts with ': 1+1?...'" (the two runs share the letter Q)."""
    from scoregap.engine.run_comparison import prompt_evidence

    mine = [_doc(i, f"What is {i}?", f"Question: What is {i}?", 1.0) for i in range(2)]
    theirs = [_doc(i, f"What is {i}?", f"Q: 1+1?\nA: 2\n\nQuestion: What is {i}?", 1.0) for i in range(2)]
    assert prompt_evidence(list(zip(mine, theirs)))[0] == (
        "every reported prompt starts with 'Q: 1+1?↵A: 2↵↵', which the other run's do not")


def test_a_recorded_chat_template_is_compared_with_the_one_the_tokenizer_applies_here():
    import hashlib

    from scoregap.engine.backends.fake_model import FakeTokenizer
    from scoregap.engine.run_evidence import template_here

    tok = FakeTokenizer(chat_template=True)
    same = hashlib.sha256(tok.chat_template.encode()).hexdigest()
    run = lambda sha: LoggedRun("lm-eval", "r", "t", "acc", "none", 0.5, chat_template_sha=sha)
    assert template_here(tok, run(""), None) is None                  # no run recorded a template
    agree = template_here(tok, run(same), run(""))
    assert agree["here"] == agree["yours"] == same and "is the one this model's tokenizer applies here" in agree["line"]
    changed = template_here(tok, run(same), run("ab" * 32))
    assert changed["reported"] == "ab" * 32
    assert "The reported run rendered prompts with another template" in changed["line"]
    assert "Your run" not in changed["line"]
    none_here = template_here(FakeTokenizer(), run(same), None)
    assert "this model's tokenizer applies none here. Your run rendered" in none_here["line"]


def test_a_run_made_through_the_python_api_names_its_model_not_a_type(tmp_path):
    """Found walking an import: lm-eval's Python API, given a model object, records its path as
    config.model, and the import called that path a "model type"."""
    _, recon = read_lmeval(write_run(tmp_path / "api", config=None))
    assert "loading.backend" in recon.values                    # "hf": a type
    import json as _json

    results = next((tmp_path / "api").rglob("results_*.json"))
    data = _json.loads(results.read_text())
    data["config"]["model"] = "/models/tiny"
    results.write_text(_json.dumps(data))
    _, recon = read_lmeval(tmp_path / "api")
    assert "loading.backend" not in recon.values
    assert any(line.startswith('model "/models/tiny" is a model\'s name, not an lm-eval model type')
               for line in recon.unrepresentable)


def test_two_runs_of_different_task_versions_say_so():
    run = lambda version, tool="lm-eval": LoggedRun(tool, "r", "t", "acc", "none", 0.5, version=version,
                                                    docs=(_doc(0, "What is 1+1?", "Q: What is 1+1?", 1.0),))
    c = compare_runs(run("1.0"), run("2.0"))
    assert [(d.key, d.yours, d.reported) for d in c.differences] == [("task version", "1.0", "2.0")]
    assert not compare_runs(run("1.0"), run("1.0")).differences
    assert not compare_runs(run("Yaml"), run("2.0")).differences          # a local task records no version
    assert not compare_runs(run("1.0"), run("0", "lighteval")).differences  # two tools number apart
