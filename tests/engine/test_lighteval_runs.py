"""Reading lighteval outputs (engine/lighteval_runs.py) from the two fixture runs of
scripts/make_lighteval_fixtures.py: the older str-cast details layout (lighteval 0.4-0.7, 25-shot)
and the newer doc/model_response/metric layout (0.11 on, 0-shot), plus variants built here: a
generative run, an unknown task, a prompt that must be rebuilt, and bad inputs. No model runs."""

from __future__ import annotations

import json
import shutil
from ast import literal_eval
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lighteval_fixtures import DOCS, NEW_TASK, NORM, OLD_TASK, write_fixtures

from scoregap.engine.errors import InputError
from scoregap.engine.lighteval_runs import read_lighteval, reconstruct, scoregap_metric
from scoregap.engine.metrics import score_choices
from scoregap.engine.presets import load_setup
from scoregap.engine.run_comparison import compare_runs, match_docs


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_fixtures(tmp_path_factory.mktemp("lighteval"))


@pytest.fixture
def copy(runs: dict[str, Path], tmp_path: Path) -> dict[str, Path]:
    """A copy of both runs that a test may damage."""
    shutil.copytree(runs["old"].parent, tmp_path / "runs")
    return {name: tmp_path / "runs" / path.relative_to(runs["old"].parent) for name, path in runs.items()}


def results(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_older_layout_is_read(runs: dict[str, Path]) -> None:
    run, recon = read_lighteval(runs["old"])
    data = results(runs["old_results"])
    assert (run.tool, run.task, run.metric, run.filter) == ("lighteval", OLD_TASK, "acc_norm", "")
    assert run.path == str(runs["old_results"]) and run.samples_path == str(runs["old_details"])
    assert run.score == data["results"][OLD_TASK]["acc_norm"]
    assert run.score == pytest.approx(sum(d.correct for d in run.docs) / DOCS)
    assert (run.model, run.version) == ("scoregap-tests/tiny-arc", "0")
    assert run.revision == data["config_general"]["model_sha"]
    assert dict(run.facts) == {"fewshot.k": 25, "loading.dtype": "bfloat16", "loading.batch_size": 8,
                               "scoring.metric": "acc_norm"}
    assert len(run.docs) == DOCS and [d.doc_id for d in run.docs] == list(range(DOCS))
    rows = pq.read_table(runs["old_details"]).to_pylist()
    for doc, row in zip(run.docs, rows, strict=True):
        choices = literal_eval(row["choices"])   # lighteval <= 0.7 wrote str(list)
        assert doc.requests == tuple((row["full_prompt"], c) for c in choices)
        assert all(c.startswith(" ") for _, c in doc.requests)
        assert doc.context.count("Question:") == 26 and doc.context.endswith(doc.question)
        assert doc.question.startswith("Question: ") and doc.question.endswith("\nAnswer:")
        assert doc.loglikelihoods == tuple(ll for ll, _ in literal_eval(row["predictions"]))
        # the logged acc_norm is what scoregap's acc_norm picks from the logged loglikelihoods
        gold = literal_eval(row["gold_index"])[0]
        assert doc.correct == score_choices("acc_norm", doc.loglikelihoods, [c[1:] for c in choices], gold)
        assert doc.doc["gold_index"] == [gold] and doc.doc["num_effective_few_shots"] == 25
    assert any("Random(42)" in note for note in run.notes)
    assert any('prompt function "arc"' in note for note in run.notes)
    assert any("whether a chat template was applied" in note for note in run.notes)   # 0.6 does not record it
    assert recon.extends == "lighteval/arc_challenge" and recon.task_file is None
    assert dict(recon.values) == {"loading.dtype": "bfloat16", "loading.batch_size": 8}
    assert any("Random(42) doc shuffle are approximated" in line for line in recon.unrepresentable)
    setup = load_setup(recon.extends).with_values(dict(recon.values))
    assert (setup.fewshot.k, setup.scoring.metric, setup.loading.dtype) == (25, "acc_norm", "bfloat16")


def test_the_newer_layout_is_read(runs: dict[str, Path]) -> None:
    run, recon = read_lighteval(runs["new"])
    data = results(runs["new_results"])
    assert (run.task, run.metric) == (NEW_TASK, NORM)
    assert run.score == data["results"][NEW_TASK][NORM] == pytest.approx(sum(d.correct for d in run.docs) / DOCS)
    assert dict(run.facts) == {"fewshot.k": 0, "loading.dtype": "float16", "loading.batch_size": 4,
                               "chat.apply_template": False, "scoring.metric": "acc_norm"}
    rows = pq.read_table(runs["new_details"]).to_pylist()
    assert len(run.docs) == DOCS
    for doc, row in zip(run.docs, rows, strict=True):
        assert doc.question == row["doc"]["query"] == doc.context
        assert doc.requests == tuple((row["model_response"]["input"], c) for c in row["doc"]["choices"])
        assert doc.loglikelihoods == tuple(row["model_response"]["logprobs"])
        assert doc.correct == row["metric"][NORM]
        assert doc.doc["gold_index"] == row["doc"]["gold_index"] and "fewshot_samples" not in doc.doc
    assert not any("Random(42)" in note for note in run.notes)   # 0-shot: the shuffle changes no prompt
    assert not any("chat template" in note for note in run.notes)   # override_chat_template = false says it
    assert recon.extends == "lighteval/arc_challenge"
    assert dict(recon.values) == {"fewshot.k": 0, "loading.dtype": "float16", "loading.batch_size": 4}
    assert recon.unrepresentable == ()
    assert load_setup(recon.extends).with_values(dict(recon.values)).fewshot.k == 0


def test_a_results_file_a_task_and_a_metric_can_be_named(runs: dict[str, Path]) -> None:
    by_folder, _ = read_lighteval(runs["old"])
    for task in ("", "arc:challenge", "leaderboard|arc:challenge", OLD_TASK, "leaderboard|arc:challenge|25|0"):
        run, _ = read_lighteval(runs["old_results"], task)
        assert (run.task, run.score, len(run.docs)) == (OLD_TASK, by_folder.score, DOCS)
    run, recon = read_lighteval(runs["new"], metric="acc")
    assert (run.metric, run.facts["scoring.metric"]) == ("acc", "acc")
    assert run.score == results(runs["new_results"])["results"][NEW_TASK]["acc"]
    assert recon.values["scoring.metric"] == "acc"
    assert read_lighteval(runs["new"], metric="acc_norm")[0].metric == NORM   # scoregap's name finds lighteval's


def test_the_two_layouts_of_the_same_docs_match_by_content(runs: dict[str, Path]) -> None:
    old, _ = read_lighteval(runs["old"])
    new, _ = read_lighteval(runs["new"])
    shuffled = list(reversed(new.docs))
    pairs = match_docs(old.docs, shuffled)
    assert len(pairs) == DOCS
    assert all(a.question == b.question and [c for _, c in a.requests] == [c for _, c in b.requests] for a, b in pairs)
    comparison = compare_runs(old, new)
    assert comparison.matched == DOCS and sum(comparison.outcomes.values()) == DOCS
    assert comparison.identical_prompts == 0     # 25 shots against none
    assert {d.key: (d.yours, d.reported) for d in comparison.differences}["fewshot.k"] == (25, 0)


def test_the_newest_results_file_is_read_and_named(copy: dict[str, Path]) -> None:
    later = copy["old_results"].with_name("results_2099-01-01T00-00-00.000000.json")
    shutil.copyfile(copy["old_results"], later)
    run, _ = read_lighteval(copy["old"])
    assert run.path == str(later) and run.docs == ()
    assert any("2 results files" in note and later.name in note for note in run.notes)
    assert any("no details" in note and "--save-details" in note for note in run.notes)


def test_what_no_setup_key_holds_becomes_a_note(copy: dict[str, Path]) -> None:
    data = results(copy["old_results"])
    data["config_general"].update(max_samples=12, model_dtype="torch.float8_e4m3fn")
    data["summary_tasks"][OLD_TASK].update(num_truncated_few_shots=3, truncated=2)
    copy["old_results"].write_text(json.dumps(data))
    run, recon = read_lighteval(copy["old"])
    assert "loading.dtype" not in run.facts and "loading.dtype" not in recon.values
    sha = data["config_general"]["lighteval_sha"]
    for expected in ('dtype "torch.float8_e4m3fn"', "max_samples = 12", "3 docs got fewer shots",
                     "2 prompts were truncated", "lighteval task version 0", f"lighteval_sha: {sha}"):
        assert any(expected in note for note in run.notes), expected


def test_a_prompt_the_details_do_not_log_is_rebuilt_from_the_doc(copy: dict[str, Path]) -> None:
    rows = pq.read_table(copy["new_details"]).to_pylist()
    shots = [{"query": "Question: Which is hot?\nAnswer:", "choices": [" ice", " fire"], "gold_index": 1},
             {"query": "Question: Which is wet?\nAnswer:", "choices": [" water", " sand"], "gold_index": 0}]
    for row in rows:
        row["model_response"]["input"] = None            # the transformers backend logs none
        row["doc"]["fewshot_samples"] = shots
    pq.write_table(pa.Table.from_pylist(rows), copy["new_details"])
    run, _ = read_lighteval(copy["new"])
    shown = "Question: Which is hot?\nAnswer: fire\n\nQuestion: Which is wet?\nAnswer: water\n\n"
    assert all(d.context == shown + d.question for d in run.docs)
    assert any("rebuilt" in note for note in run.notes)


def test_a_generated_answer_in_the_newer_layout_is_one_request(copy: dict[str, Path]) -> None:
    rows = pq.read_table(copy["new_details"]).to_pylist()
    for row in rows:                       # doc.choices holds the golds; the model generated instead
        row["model_response"].update(logprobs=[], argmax_logits_eq_gold=[], text=[" it melts", " it sinks"])
    pq.write_table(pa.Table.from_pylist(rows), copy["new_details"])
    run, _ = read_lighteval(copy["new"])
    assert all(d.requests == ((d.question, ""),) and d.prediction == " it melts" for d in run.docs)
    assert all(d.loglikelihoods == () for d in run.docs)


def _generative_run(folder: Path, task: str, config: dict[str, Any], general: dict[str, Any]) -> Path:
    ts = "2024-05-05T05-05-05.000005"
    rows = [{"example": f"Question: What is {i} + {i}?\nAnswer:", "instruction": "",
             "full_prompt": f"Question: What is {i} + {i}?\nAnswer:", "predictions": str([f" {2 * i}\n"]),
             "choices": "[]", "gold": str([f" {2 * i}"]), "gold_index": "[]", "metrics": str({"qem": i % 2})}
            for i in range(4)]
    details = folder / "details" / "m" / ts / f"details_{task}_{ts}.parquet"
    details.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), details)
    file = folder / "results" / "m" / f"results_{ts}.json"
    file.parent.mkdir(parents=True)
    file.write_text(json.dumps({"config_general": {"model_name": "m", **general}, "results": {task: {"qem": 0.5}},
                                "versions": {task: 1}, "config_tasks": {task.rsplit("|", 1)[0]: config}}))
    return file


def test_a_generative_run_maps_its_metric_and_generation_settings(tmp_path: Path) -> None:
    config = {"name": "gsm8k", "prompt_function": "gsm8k", "hf_repo": "gsm8k", "hf_subset": "main",
              "metric": ["quasi_exact_match_gsm8k"], "evaluation_splits": ["test"],
              "few_shots_select": "random_sampling_from_train", "generation_size": 300,
              "stop_sequence": ["Question:"], "effective_num_docs": 4, "version": 1}
    file = _generative_run(tmp_path, "lighteval|gsm8k|5", config, {"model_dtype": "torch.float8_e4m3fn"})
    run, recon = read_lighteval(file)
    assert (run.metric, run.score) == ("qem", 0.5)
    assert run.facts["scoring.metric"] == "quasi_exact_match"
    assert (run.facts["generation.max_new_tokens"], run.facts["generation.stop"]) == (300, ["Question:"])
    assert "loading.dtype" not in run.facts and any("float8_e4m3fn" in note for note in run.notes)
    assert [d.requests for d in run.docs][1] == (("Question: What is 1 + 1?\nAnswer:", ""),)
    assert [d.prediction for d in run.docs] == [" 0\n", " 2\n", " 4\n", " 6\n"]
    assert [d.correct for d in run.docs] == [0.0, 1.0, 0.0, 1.0] and all(not d.loglikelihoods for d in run.docs)
    assert recon.extends == "lighteval/gsm8k"
    assert recon.values == {"fewshot.k": 5, "scoring.metric": "quasi_exact_match", "generation.max_new_tokens": 300}
    assert load_setup(recon.extends).with_values(dict(recon.values)).scoring.method == "generate"


def test_an_unknown_task_extends_lm_eval_base_and_names_its_prompt_function(tmp_path: Path) -> None:
    config = {"name": "mytask", "prompt_function": "my_prompt", "hf_repo": "me/data", "hf_subset": "default",
              "metric": ["quasi_exact_match"], "few_shots_select": "balanced", "generation_size": 64,
              "stop_sequence": ["\n"], "effective_num_docs": 4}
    general = {"use_chat_template": True, "system_prompt": "Be brief."}
    file = _generative_run(tmp_path, "custom|mytask|3", config, general)
    run, recon = read_lighteval(file)
    assert run.facts["chat.apply_template"] is True and run.facts["chat.system_prompt"] == "Be brief."
    assert recon.extends == "lm-eval/base"
    assert recon.values["fewshot.k"] == 3 and recon.values["scoring.method"] == "generate"
    assert any('prompt function "my_prompt" is Python' in line for line in recon.unrepresentable)
    assert any("few-shot selection (balanced) and its Random(42) doc shuffle are approximated" in line
               for line in recon.unrepresentable)
    assert set(recon.unrepresentable) <= set(run.notes)
    load_setup(recon.extends).with_values(dict(recon.values))


@pytest.mark.parametrize(("middle", "prompt_function", "extends"), [
    ("mmlu:abstract_algebra", "mmlu_harness", "lm-eval/mmlu"),        # leaderboard|mmlu: lm-eval's prompt
    ("mmlu:abstract_algebra", "mmlu_helm", "helm/mmlu"),
    ("mmlu:abstract_algebra", "mmlu_abstract_algebra", "original/mmlu"),
    ("mmlu:abstract_algebra", "", "lighteval/mmlu"),
    ("hellaswag", "hellaswag_harness", "lighteval/hellaswag"),
    ("hellaswag", "hellaswag_generative", "lm-eval/base"),             # helm|hellaswag: another prompt
    ("truthfulqa:mc", "truthful_qa_multiple_choice", "lm-eval/base"),
])
def test_the_preset_extended_is_the_one_of_the_tasks_prompt(middle: str, prompt_function: str, extends: str) -> None:
    recon = reconstruct(middle, {"fewshot.k": 5, "scoring.metric": "acc"}, {"prompt_function": prompt_function}, 5)
    assert recon.extends == extends
    setup = load_setup(recon.extends).with_values(dict(recon.values))
    assert setup.fewshot.k == 5 and setup.scoring.metric == "acc"
    if middle.startswith("mmlu"):
        assert setup.task.subsets == ("abstract_algebra",)
    assert any(f'prompt function "{prompt_function}"' in line for line in recon.unrepresentable) == (
        extends == "lm-eval/base")


def test_a_value_that_does_not_validate_is_listed_not_dropped() -> None:
    recon = reconstruct("arc:challenge", {"fewshot.k": 5, "generation.max_new_tokens": 0}, {}, 5)
    assert recon.values == {"fewshot.k": 5}
    assert any("generation.max_new_tokens = 0" in line and "at least 1" in line for line in recon.unrepresentable)


def test_metric_names_map_where_sure() -> None:
    assert scoregap_metric("acc_norm", ["loglikelihood_acc", "loglikelihood_acc_norm_nospace"]) == ("acc_norm", "")
    assert "leading space" in scoregap_metric("acc_norm", ["loglikelihood_acc_norm"])[1]
    assert scoregap_metric(NORM)[0] == "acc_norm"
    assert scoregap_metric("acc:logprob_normalization=LogProbTokenNorm()")[0] == "acc_token"
    assert scoregap_metric("acc:logprob_normalization=LogProbPMINorm()")[0] == "acc_mutual_info"
    assert scoregap_metric("maj@8") == (None, "") and scoregap_metric("em")[0] == "exact_match"


def test_a_folder_without_results_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no results_\\*.json file") as err:
        read_lighteval(tmp_path)
    assert str(tmp_path) in str(err.value)
    with pytest.raises(InputError, match="no such file or folder"):
        read_lighteval(tmp_path / "missing")


def test_an_lm_eval_results_file_is_refused_with_the_command_to_use(tmp_path: Path) -> None:
    file = tmp_path / "results_2024-01-01T00-00-00.json"
    file.write_text(json.dumps({"results": {"arc_challenge": {"acc,none": 0.5}}, "configs": {}, "config": {}}))
    with pytest.raises(InputError, match="lm-evaluation-harness") as err:
        read_lighteval(file)
    assert str(file) in str(err.value) and "scoregap import lm-eval" in str(err.value)
    file.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        read_lighteval(file)
    file.write_text(json.dumps({"scores": []}))
    with pytest.raises(InputError, match='needs the keys "config_general" and "results"'):
        read_lighteval(file)


def test_a_task_not_in_the_file_is_refused_with_the_tasks_there(runs: dict[str, Path], copy: dict[str, Path]) -> None:
    with pytest.raises(InputError, match='no task "hellaswag"') as err:
        read_lighteval(runs["old"], "hellaswag")
    assert str(runs["old_results"]) in str(err.value) and OLD_TASK in str(err.value)
    data = results(copy["old_results"])
    data["results"]["leaderboard|hellaswag|10"] = {"acc": 0.5}
    copy["old_results"].write_text(json.dumps(data))
    with pytest.raises(InputError, match="holds 2 tasks") as err:
        read_lighteval(copy["old"])
    assert "leaderboard|hellaswag|10" in str(err.value) and OLD_TASK in str(err.value)


def test_details_of_another_run_are_refused(copy: dict[str, Path]) -> None:
    table = pq.read_table(copy["old_details"])
    pq.write_table(table.slice(0, DOCS - 1), copy["old_details"])
    with pytest.raises(InputError, match=f"{DOCS - 1} rows") as err:
        read_lighteval(copy["old"])
    assert str(copy["old_details"]) in str(err.value) and f"records {DOCS} docs" in str(err.value)


def test_an_unreadable_details_file_is_refused(copy: dict[str, Path]) -> None:
    copy["new_details"].write_bytes(b"not a parquet file")
    with pytest.raises(InputError, match="cannot be read as parquet") as err:
        read_lighteval(copy["new"])
    assert str(copy["new_details"]) in str(err.value)
    pq.write_table(pa.table({"question": ["q"], "answer": ["a"]}), copy["new_details"])
    with pytest.raises(InputError, match="not a lighteval details file"):
        read_lighteval(copy["new"])


def test_the_import_command_turns_a_lighteval_run_into_a_session(runs: dict[str, Path], tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from scoregap.engine.session import load_session
    from scoregap.tui.cli import main

    out = tmp_path / "session.toml"
    assert main(["import", "lighteval", str(runs["new"]), "--reported-run", str(runs["old"]), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    session = load_session(out)
    assert session.yours_run.tool == session.reported_run.tool == "lighteval"
    assert session.known["fewshot.k"] == 25 and session.yours.fewshot.k == 0
    assert session.yours.task.benchmark == "arc_challenge"
    assert "12 docs are in both runs" in printed and "fewshot.k): yours 0, reported 25" in printed
    assert "prompts not checked: the task cannot be loaded here" in printed   # offline: no ARC data here


def test_what_a_run_records_and_no_key_holds_is_printed_and_written_for_both_sides(
        copy: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by an audit: a lighteval run's notes (max_samples, its sha) vanished when it was
    imported as yours, and the reported setup's own "not expressible" lines were never printed."""
    from scoregap.tui.cli import main

    for name in ("old_results", "new_results"):
        data = results(copy[name])
        data["config_general"].update(max_samples=12)
        copy[name].write_text(json.dumps(data))
    out = tmp_path / "session.toml"
    assert main(["import", "lighteval", str(copy["new"]), "--reported-run", str(copy["old"]), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    session_text = out.read_text(encoding="utf-8")
    yours_text = (tmp_path / "session.yours.toml").read_text(encoding="utf-8")
    yours, _ = read_lighteval(copy["new"])
    theirs, _ = read_lighteval(copy["old"])
    assert any("max_samples = 12" in note for note in yours.notes)
    for note in {*yours.notes, *theirs.notes}:
        assert f"not expressible: {note}" in printed, note
        assert f"# - {note}" in session_text, note
    for note in yours.notes:
        assert f"# - {note}" in yours_text, note
    assert "# Recorded by your run" in session_text and "# Recorded by the reported run" in session_text
