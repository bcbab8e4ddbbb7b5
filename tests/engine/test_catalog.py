"""The benchmark catalog: built from the lm-eval presets (one entry per benchmark, not per
variant), with the other codebases' presets beside each, the published split sizes, and a
search that the wizard filters by."""

from __future__ import annotations

from scoregap.engine.catalog import PUBLISHED_DOCS, entries, entry, search
from scoregap.engine.presets import load_setup, presets_for
from scoregap.profiles import PROFILES_DIR

NINE = ("arc_challenge", "arc_easy", "gsm8k", "hellaswag", "mmlu", "piqa", "truthfulqa_mc1", "truthfulqa_mc2",
        "winogrande")


def test_one_entry_per_lm_eval_benchmark_preset() -> None:
    names = [e.name for e in entries()]
    assert names == sorted(names)
    for benchmark in NINE:
        assert f"lm-eval/{benchmark}" in names
    stems = {p.stem for p in (PROFILES_DIR / "lm-eval").glob("*.toml")}
    for name in names:
        assert name.split("/", 1)[1] in stems
    assert "lm-eval/base" not in names                      # sets no benchmark
    for stem in stems - set(NINE) - {"base"}:               # a variant (gsm8k_cot) is not an entry
        if load_setup(f"lm-eval/{stem}").task.benchmark != stem:
            assert f"lm-eval/{stem}" not in names


def test_an_entry_is_what_its_preset_sets() -> None:
    arc = entry("lm-eval/arc_challenge")
    assert arc is not None
    assert (arc.benchmark, arc.hf, arc.configs, arc.split, arc.fewshot_split) == (
        "arc_challenge", "allenai/ai2_arc", ("ARC-Challenge",), "test", "train")
    assert (arc.kind, arc.k, arc.metric, arc.docs) == ("multiple_choice", 0, "acc", 1172)
    assert arc.config == "ARC-Challenge"
    assert arc.description == "allenai/ai2_arc · acc · 0-shot"

    mmlu = entry("lm-eval/mmlu")
    assert mmlu is not None and len(mmlu.configs) == 57 and mmlu.config == "57 configs"
    assert (mmlu.split, mmlu.fewshot_split, mmlu.docs) == ("test", "dev", 14042)

    gsm8k = entry("lm-eval/gsm8k")
    assert gsm8k is not None and (gsm8k.kind, gsm8k.k, gsm8k.metric) == ("generate", 5, "exact_match")
    hellaswag = entry("lm-eval/hellaswag")
    assert hellaswag is not None and hellaswag.configs == () and hellaswag.config == ""
    assert entry("lm-eval/no_such_benchmark") is None


def test_codebases_are_the_other_presets_and_the_leaderboard_is_apart() -> None:
    for e in entries():
        assert e.name not in e.codebases
        assert e.codebases == tuple(p for p in presets_for(e.kind, e.benchmark) if p != e.name)
        assert all(not p.startswith("leaderboard/") for p in e.codebases)
        on_disk = (PROFILES_DIR / "leaderboard" / f"{e.benchmark}.toml").is_file()
        assert e.leaderboard == (f"leaderboard/{e.benchmark}" if on_disk else "")
        assert e.presets == e.codebases + ((e.leaderboard,) if e.leaderboard else ())
    mmlu = entry("lm-eval/mmlu")
    assert mmlu is not None
    assert {"helm/mmlu", "lighteval/mmlu", "original/mmlu"} <= set(mmlu.codebases)


def test_every_preset_the_catalog_names_loads_and_is_that_benchmark() -> None:
    """entries() leaves out what does not load; here nothing bundled may be left out that way."""
    for e in entries():
        for name in e.presets:
            assert load_setup(name).task.benchmark == e.benchmark, name
    for path in (PROFILES_DIR / "leaderboard").glob("*.toml"):   # one that does not load is not listed
        if entry(f"lm-eval/{path.stem}") is not None:
            assert load_setup(f"leaderboard/{path.stem}").task.benchmark == path.stem


def test_the_published_sizes_are_for_the_split_each_preset_scores() -> None:
    assert {b: n for b, (_, n) in PUBLISHED_DOCS.items()} == {
        "arc_challenge": 1172, "arc_easy": 2376, "hellaswag": 10042, "mmlu": 14042, "gsm8k": 1319,
        "winogrande": 1267, "truthfulqa_mc1": 817, "truthfulqa_mc2": 817, "piqa": 1838}
    for e in entries():
        split, docs = PUBLISHED_DOCS[e.benchmark]
        assert e.split == split and e.docs == docs


def test_search_matches_every_word_in_name_hub_id_config_or_metric() -> None:
    catalog = entries()
    assert [e.name for e in search("arc", catalog)] == ["lm-eval/arc_challenge", "lm-eval/arc_easy"]
    assert [e.name for e in search("ARC chall", catalog)] == ["lm-eval/arc_challenge"]
    assert [e.name for e in search("exact_match", catalog)] == ["lm-eval/gsm8k"]
    assert [e.name for e in search("truthful mc2", catalog)] == ["lm-eval/truthfulqa_mc2"]
    assert search("", catalog) == catalog
    assert search("./my-setup.toml", catalog) == []
