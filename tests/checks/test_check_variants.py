"""Every check's variants obey the house rules on every setup: valid, renderable, one factor,
no no-ops, no duplicate names, known facts first; and each check skips where it should."""

from __future__ import annotations

from typing import Any

import pytest
from check_setups import ALL_SETUPS, BUNDLED, context_for, make

from scoregap.checks import CHECKS, get
from scoregap.engine.checks_api import TRANSFORMS, Variant
from scoregap.engine.presets import load_setup
from scoregap.engine.prompts import PromptBuilder, probe_chat
from scoregap.engine.setup import Setup, _split_dotted
from scoregap.profiles import PROFILES_DIR

CHECK_IDS = [c.id for c in CHECKS]


def variants_of(check_id: str, name: str, **kwargs: Any) -> list[Variant]:
    yours, context = make(name, **kwargs)
    check = get(check_id)
    if check.applies(yours, context):
        return []
    return check.variants(yours, context)


@pytest.mark.parametrize("setup_name", ALL_SETUPS)
@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_variants_apply_cleanly_and_change_something(check_id: str, setup_name: str) -> None:
    yours, context = make(setup_name, backends=("transformers", "vllm"))
    check = get(check_id)
    reason = check.applies(yours, context)
    variants = [] if reason else check.variants(yours, context)
    assert reason or variants, "a check that applies has something to try"
    names = [v.name for v in variants]
    assert len(names) == len(set(names)), f"duplicate names: {names}"
    seen = set()
    for v in variants:
        assert v.check == check_id and v.name and len(v.name) <= 40
        assert bool(v.changes) != bool(v.transform), "a variant either reruns or re-reads"
        if v.transform:
            assert v.transform in TRANSFORMS and v.transform != "percent"
            assert (v.transform, "") not in seen
            seen.add((v.transform, ""))
            continue
        for key, _ in v.changes:
            _split_dotted(key)
        setup = v.apply(yours)                        # must not raise
        assert setup != yours, f"{v.name} is a no-op"
        assert (setup.digest, "") not in seen, f"{v.name} repeats another variant"
        seen.add((setup.digest, ""))
        # It renders for real docs (the engine would build exactly these prompts).
        builder = PromptBuilder(setup, context.task, chat=probe_chat)
        for doc in context.task.docs[:3]:
            builder.render(doc)


@pytest.mark.parametrize("check_id", [c for c in CHECK_IDS if c != "codebase"])  # owns no key
def test_known_fact_comes_first_and_is_marked(check_id: str) -> None:
    facts = {
        "seed": ("tests/checks/setups/chat_mc.toml", {"fewshot.seed": 7}),
        "metric": ("tests/checks/setups/chat_mc.toml", {"scoring.metric": "acc"}),
        "normalization": ("tests/checks/setups/chat_qa.toml", {"scoring.extract": "boxed"}),
        "prompt": ("tests/checks/setups/chat_mc.toml", {"prompt.choice_labels": "1"}),
        "template": ("tests/checks/setups/chat_mc.toml", {"chat.apply_template": False}),
        "fewshot": ("tests/checks/setups/chat_mc.toml", {"fewshot.k": 5}),
        "generation": ("tests/checks/setups/chat_qa.toml", {"generation.max_new_tokens": 256}),
        "loading": ("tests/checks/setups/chat_mc.toml", {"loading.dtype": "bfloat16"}),
    }[check_id]
    name, known = facts
    variants = variants_of(check_id, name, known=known)
    (key, value), = known.items()
    assert variants[0].known and dict(variants[0].changes) == {key: value}
    assert [v for v in variants if v.known] == variants[:1]
    if check_id != "seed":   # a stated fact settles the factor: no other values of it
        assert not any(key in dict(v.changes) for v in variants[1:])
    else:                    # but repeats stay: they are the noise floor
        assert len(variants) == 3


def test_known_fact_equal_to_yours_is_not_tested_and_settles_the_factor() -> None:
    variants = variants_of("fewshot", "tests/checks/setups/chat_mc.toml", known={"fewshot.k": 3})
    assert not any(v.known for v in variants)
    assert not any("fewshot.k" in dict(v.changes) for v in variants)
    assert "first k of the pool" in [v.name for v in variants]


def test_known_average_is_a_transform() -> None:
    variants = variants_of("metric", "tests/checks/setups/chat_mc.toml", known={"scoring.aggregate": "macro"})
    assert variants[0].known and variants[0].transform == "macro" and not variants[0].changes
    assert sum(v.transform == "macro" for v in variants) == 1


def test_known_facts_of_other_checks_are_ignored_and_invalid_ones_dropped() -> None:
    known = {"fewshot.k": 50, "loading.dtype": "float16"}   # the pool holds 18 shots
    assert not any(v.known for v in variants_of("fewshot", "tests/checks/setups/chat_mc.toml", known=known))
    assert not any(v.known for v in variants_of("prompt", "tests/checks/setups/chat_mc.toml", known=known))
    loading = variants_of("loading", "tests/checks/setups/chat_mc.toml", known=known)
    assert loading[0].known and loading[0].name == "float16"


# -- skips ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("check_id", ["normalization", "generation"])
def test_generation_checks_skip_loglikelihood_tasks(check_id: str) -> None:
    yours, context = make("tests/checks/setups/chat_mc.toml")
    assert "loglikelihood" in get(check_id).applies(yours, context)
    yours, context = make("tests/checks/setups/chat_qa.toml")
    assert get(check_id).applies(yours, context) == ""


def test_seed_skips_when_nothing_is_random() -> None:
    yours, context = make("samples/arith.toml")           # 0-shot, loglikelihood
    reason = get("seed").applies(yours, context)
    assert "Nothing in your setup is drawn at random" in reason and "no few-shot" in reason
    yours, context = make("qa greedy first_n")            # first_n shots, greedy decoding
    assert "greedy" in get("seed").applies(yours, context)
    yours, context = make("mc chat one turn")             # first_n but shuffled order: random
    assert get("seed").applies(yours, context) == ""
    names = [v.name for v in get("seed").variants(yours, context)]
    assert names == ["few-shot seed 1235", "few-shot seed 1236"]


def test_seed_varies_the_sampling_seed_when_sampling() -> None:
    names = [v.name for v in variants_of("seed", "qa sampling")]
    assert names == ["sampling seed 1235", "sampling seed 1236"]


def mmlu_on_arith(**changes: Any) -> Setup:
    """A setup that extends lm-eval/mmlu (so the catalog knows its benchmark) with the bundled
    arithmetic task as its data: task.path wins over the inherited task.hf."""
    arith = PROFILES_DIR / "tasks" / "arith" / "arith.toml"
    return load_setup("lm-eval/mmlu").with_values({"task.path": str(arith), **changes}, origin="test mmlu on arith")


def test_codebase_skips_a_task_outside_the_catalog_or_without_presets() -> None:
    yours, context = make("tests/checks/setups/chat_mc.toml")
    assert yours.task.benchmark == ""
    reason = get("codebase").applies(yours, context)
    assert "not in the catalog" in reason and "task.benchmark" in reason
    yours = mmlu_on_arith()
    assert "No codebase preset" in get("codebase").applies(yours, context_for(yours, presets=()))
    # A generated task of a benchmark whose presets all score by loglikelihood has none either.
    yours = load_setup("samples/facts.toml").with_values({"task.benchmark": "mmlu"}, origin="test")
    reason = get("codebase").applies(yours, context_for(yours))
    assert "No codebase preset" in reason and "by generation" in reason


def test_codebase_offers_the_benchmarks_presets_and_keeps_your_task_generation_loading() -> None:
    # Your setup: lm-eval's MMLU data under chat_mc's conventions, so every preset differs from it.
    yours = mmlu_on_arith(**{"chat.apply_template": True, "fewshot.k": 3, "fewshot.sampler": "random",
                             "prompt.target": "text", "scoring.metric": "acc_norm",
                             "generation.max_new_tokens": 7, "loading.dtype": "bfloat16"})
    context = context_for(yours)
    assert get("codebase").applies(yours, context) == ""
    variants = get("codebase").variants(yours, context)
    assert {v.name for v in variants} == {"lm-eval/mmlu", "helm/mmlu", "original/mmlu", "lighteval/mmlu",
                                          "olmes/mmlu", "olmes/mmlu_cloze", "harness-2023/mmlu"}
    builder_docs = context.task.docs[:3]
    for v in variants:
        sections = {key.partition(".")[0] for key, _ in v.changes}
        assert sections <= {"prompt", "fewshot", "chat", "scoring"}
        setup = v.apply(yours)
        assert (setup.task, setup.generation, setup.loading) == (yours.task, yours.generation, yours.loading)
        builder = PromptBuilder(setup, context.task, chat=probe_chat)
        for doc in builder_docs:
            builder.render(doc)


def test_codebase_caps_shots_at_the_pool() -> None:
    yours, context = make("samples/facts.toml", presets=("lm-eval/mmlu",))
    # A generate task: the MC preset scores differently and is skipped.
    assert get("codebase").variants(yours, context) == []
    yours = mmlu_on_arith()
    context = context_for(yours)
    small = context.task.__class__(**{**context.task.__dict__, "fewshot": context.task.fewshot[:2]})
    context = context.__class__(task=small, known={}, reported_score=0.5, presets=("helm/mmlu",))
    (variant,) = get("codebase").variants(yours, context)
    assert dict(variant.changes)["fewshot.k"] == 2 and "capped" in variant.note


def test_fewshot_skips_without_a_pool_and_limits_k_to_it() -> None:
    yours, context = make("samples/arith.toml")
    empty = context.task.__class__(**{**context.task.__dict__, "fewshot": ()})
    reason = get("fewshot").applies(yours, context.__class__(task=empty, known={}, reported_score=0.5))
    assert "no few-shot pool" in reason
    small = context.task.__class__(**{**context.task.__dict__, "fewshot": context.task.fewshot[:4]})
    ctx = context.__class__(task=small, known={}, reported_score=0.5)
    assert [v.name for v in get("fewshot").variants(yours, ctx)] == ["k = 1", "k = 3"]


# -- what each check emits on the demo setups ------------------------------------------------------

EXPECTED = {
    "tests/checks/setups/chat_mc.toml": {
        "codebase": 0, "seed": 2, "metric": 6, "normalization": 0, "prompt": 16, "template": 5,
        "fewshot": 7, "generation": 0, "loading": 7,
    },
    "tests/checks/setups/chat_qa.toml": {
        "codebase": 0, "seed": 2, "metric": 4, "normalization": 6, "prompt": 4, "template": 5,
        "fewshot": 7, "generation": 6, "loading": 7,
    },
}


@pytest.mark.parametrize("setup_name", list(EXPECTED))
def test_variant_counts_on_the_demo_setups(setup_name: str) -> None:
    counts = {cid: len(variants_of(cid, setup_name)) for cid in CHECK_IDS}
    assert counts == EXPECTED[setup_name]


def test_demo_mc_variant_names() -> None:
    names = {cid: [v.name for v in variants_of(cid, "tests/checks/setups/chat_mc.toml")] for cid in CHECK_IDS}
    assert names["metric"] == ["acc", "acc_bytes", "acc_token", "acc_mutual_info",
                               "rescaled (4 choices)", "macro average"]
    assert names["template"] == ["chat template off", "system prompt added",
                                 "shots in one user turn", "BOS added", "BOS left out"]
    assert names["fewshot"] == ["k = 0", "k = 1", "k = 5", "k = 10", "first k of the pool",
                                "order reversed", "order shuffled"]
    assert names["loading"] == ["bfloat16", "float16", "batch size 1", "batch size 64",
                                "left padding", "eager attention", "SDPA attention"]
    assert "labels (a)" in names["prompt"] and "target: label" in names["prompt"]
    # Chat template with separate turns: the space before the answer is never shown.
    assert not any("space" in n for n in names["prompt"])


def test_demo_qa_variant_names() -> None:
    names = {cid: [v.name for v in variants_of(cid, "tests/checks/setups/chat_qa.toml")] for cid in CHECK_IDS}
    assert names["normalization"] == ["no extraction", "GSM8K flexible-extract", "\\boxed{} answer",
                                      "Math-Verify", "strip <think>", "HELM-style normalization"]
    assert names["generation"] == ['no stop sequence', 'stop at "\\n"', 'stop at "."',
                                   "max 16 tokens", "max 128 tokens", "sampling (T 0.7, top-p 0.95)"]
    assert names["prompt"] == ['"A:" for "Answer:"', 'lower-case "answer:"', 'no "Answer:"',
                               "description added"]
    assert "math_equiv" not in names["metric"]


def test_prompt_only_varies_what_the_template_has() -> None:
    names = [v.name for v in variants_of("prompt", "mc no labels")]
    assert not any(n.startswith(("labels", "choices as")) for n in names)   # no labels shown
    assert not any(n.startswith("choices on") for n in names)               # no choice list
    assert not any("Answer" in n for n in names)                           # no answer cue
    assert "no space before the answer" in names and "description added" in names
    assert not any(n.startswith("target") for n in names)                  # only text fits


def test_prompt_drops_the_answer_cue_cleanly() -> None:
    yours, context = make("tests/checks/setups/chat_qa.toml")
    (dropped,) = [v for v in get("prompt").variants(yours, context) if v.name == 'no "Answer:"']
    assert dict(dropped.changes)["prompt.template"] == "Question: {{ question }}"


def test_template_variants_under_chat_with_one_turn() -> None:
    names = [v.name for v in variants_of("template", "mc chat one turn")]
    assert names == ["chat template off", "no system prompt", "shots as separate turns",
                     "description in the user message", "BOS as the tokenizer does", "BOS added"]


def test_generation_and_loading_other_sides() -> None:
    assert [v.name for v in variants_of("generation", "qa sampling")] == [
        'stop at "\\n"', 'stop at "."', 'stop at "\\n\\n"', "max 512 tokens", "max 2048 tokens",
        "greedy"]
    loading = variants_of("loading", "mc chat one turn", backends=("transformers", "vllm"))
    assert [v.name for v in loading] == ["float32", "bfloat16", "float16", "batch size 64", "eager attention", "vLLM"]
    assert all(v.rerun == "margin" for v in loading)      # numerics only: re-run the docs that could flip
    # From vLLM (which pads nothing and picks its kernels): no padding or attention variants, and
    # the move to transformers drops the vLLM-only settings, which transformers refuses.
    yours, context = make("qa sampling", backends=("transformers", "vllm"))
    yours = yours.with_values({"loading.tensor_parallel_size": 2, "loading.batch_size": 8})
    from_vllm = get("loading").variants(yours, context)
    assert [v.name for v in from_vllm] == ["bfloat16", "float16", "batch size 1", "batch size 64", "transformers"]
    back = from_vllm[-1].apply(yours).loading
    assert (back.backend, back.tensor_parallel_size, back.batch_size) == ("transformers", 1, 8)


def test_metric_offers_math_equiv_only_for_math_answers() -> None:
    assert [v.name for v in variants_of("metric", "qa sampling")] == [
        "exact_match", "prefix_exact_match", "suffix_exact_match", "quasi_exact_match",
        "macro average"]
    assert "micro average" in [v.name for v in variants_of("metric", "mc plain 5-shot")]


def test_normalization_on_text_answers_and_removal() -> None:
    names = [v.name for v in variants_of("normalization", "qa sampling")]
    assert "no normalization" in names and "strip <think>" not in names
    assert [v.name for v in variants_of("normalization", "samples/facts.toml")] == [
        "strip <think>", "HELM-style normalization", "no normalization"]


def test_bundled_setups_are_covered() -> None:
    assert set(BUNDLED) <= set(ALL_SETUPS)


def test_codebase_presets_take_the_reported_facts() -> None:
    known = {"fewshot.k": 0, "loading.dtype": "bfloat16"}
    yours = mmlu_on_arith()
    context = context_for(yours, known, presets=("helm/mmlu", "original/mmlu"))
    variants = get("codebase").variants(yours, context)
    assert [v.name for v in variants] == ["helm/mmlu", "original/mmlu"]
    for v in variants:
        changes = dict(v.changes)
        assert "fewshot.k" not in changes and "loading.dtype" not in changes
        assert "fewshot.k as the report states" in v.note


def test_a_fact_the_model_would_never_see_is_not_tested() -> None:
    # Under a chat template with one turn per shot, the space before the answer never shows;
    # without labels, the choice wrapper never shows.
    chat = variants_of("prompt", "tests/checks/setups/chat_mc.toml", known={"prompt.target_delimiter": ""})
    assert chat and not any(v.known for v in chat)
    assert not any(v.known for v in variants_of("prompt", "mc no labels",
                                                known={"prompt.choice_format": "({{ label }}) {{ text }}"}))
    # A visible one is tested.
    (first, *_) = variants_of("prompt", "samples/arith.toml", known={"prompt.target_delimiter": ""})
    assert first.known and first.name == "no space before the answer"


def test_every_separator_the_model_sees_is_varied_and_none_it_does_not() -> None:
    """Issue: with few-shot delimiter "\\n" the prompt check never tried the blank line (the
    diagnosis blamed k instead). Each separator in the rendered prompt gets a variant."""
    with_shots = {v.name: dict(v.changes) for v in variants_of("prompt", "mc plain 5-shot")}
    assert with_shots["a line break between shots"] == {"prompt.fewshot_delimiter": "\n"}
    assert with_shots["two blank lines between shots"] == {"prompt.fewshot_delimiter": "\n\n\n"}
    assert with_shots["line break before the answer"] == {"prompt.target_delimiter": "\n"}
    assert "no space before the answer" in with_shots
    seams = [n for n in with_shots if "question and choices" in n]
    assert len(seams) == 2                                 # the two the template does not have
    no_shots = [v.name for v in variants_of("prompt", "samples/arith.toml")]
    assert not any("between shots" in n for n in no_shots)   # no shots, no delimiter between them
    qa = [v.name for v in variants_of("prompt", "qa greedy first_n")]
    assert not any("question and choices" in n for n in qa)  # no choices listed
