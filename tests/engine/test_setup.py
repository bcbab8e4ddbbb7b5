"""Setup files: defaults, `extends`, strict validation with useful messages, digests, round trips."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scoregap.engine.errors import InputError
from scoregap.engine.presets import load_setup
from scoregap.engine.setup import Setup
from scoregap.profiles import PROFILES_DIR


def _error(path_or_name: str | Path) -> str:
    with pytest.raises(InputError) as info:
        load_setup(path_or_name)
    return str(info.value)


# ---------------------------------------------------------------------------------------------
# Defaults


def test_empty_file_gives_the_documented_defaults(write_setup) -> None:
    setup = load_setup(write_setup(""))
    assert setup == Setup()
    data = setup.to_dict()
    assert data["prompt"]["template"] == "{{ question }}\n{{ choices }}\nAnswer:"
    assert data["prompt"]["choice_labels"] == "A"
    assert data["prompt"]["choice_format"] == "{{ label }}. {{ text }}"
    assert data["prompt"]["target"] == "label"
    assert data["prompt"]["target_delimiter"] == " "
    assert data["prompt"]["fewshot_delimiter"] == "\n\n"
    assert data["fewshot"] == {"k": 0, "sampler": "first_n", "seed": 1234, "order": "sampled",
                               "multiturn": False}
    assert data["chat"] == {"apply_template": False, "system_prompt": "", "description_in": "system"}
    assert data["scoring"]["method"] == "loglikelihood"
    assert data["scoring"]["metric"] == "acc"
    assert data["scoring"]["normalize"] == []
    assert data["generation"]["max_new_tokens"] == 256
    assert data["generation"]["stop"] == ["\n\n"]
    assert data["generation"]["temperature"] == 0.0
    assert data["loading"]["dtype"] == "float32"
    assert data["loading"]["batch_size"] == 16
    assert data["loading"]["add_bos_token"] == "auto"


def test_the_file_a_setup_came_from_is_kept_for_messages(write_setup) -> None:
    path = write_setup("")
    assert load_setup(path).source == str(path.resolve())


# ---------------------------------------------------------------------------------------------
# extends


def test_extends_chain_overrides_key_by_key(write_setup) -> None:
    write_setup(
        '[prompt]\ntemplate = "G: {{ question }}"\ndescription = "grand"\n'
        '[fewshot]\nk = 1\nseed = 7\n',
        "grand.toml",
    )
    write_setup('extends = "grand.toml"\n[prompt]\ndescription = "parent"\n[fewshot]\nk = 2\n',
                "parent.toml")
    child = write_setup('extends = "parent.toml"\n[fewshot]\nk = 3\n')
    setup = load_setup(child)
    assert setup.prompt.template == "G: {{ question }}"  # from the grandparent
    assert setup.prompt.description == "parent"         # the parent overrides the grandparent
    assert setup.fewshot.k == 3                         # the child overrides both
    assert setup.fewshot.seed == 7                      # untouched keys come through


def test_task_fields_merge_key_by_key(write_setup) -> None:
    write_setup('[task.fields]\nquestion = "q"\ngold = "g"\n', "parent.toml")
    child = write_setup('extends = "parent.toml"\n[task.fields]\ngold = "label"\nsubtask = "s"\n')
    fields = dict(load_setup(child).task.fields)
    assert fields == {"question": "q", "gold": "label", "subtask": "s"}


def test_extends_a_bundled_preset_by_name(write_setup) -> None:
    setup = load_setup(write_setup('extends = "lm-eval/mmlu"\n[fewshot]\nk = 2\n'))
    assert setup.fewshot.k == 2                               # ours
    assert setup.prompt.choice_labels == "A"                  # from lm-eval/mmlu
    assert setup.prompt.template == "{{ question.strip() }}\n{{ choices }}\nAnswer:"
    assert setup.loading.batch_size == 1                      # from lm-eval/base, under mmlu
    assert setup == load_setup(write_setup('extends = "lm-eval/mmlu.toml"\n[fewshot]\nk = 2\n',
                                           "with_suffix.toml"))


def test_extends_a_relative_path(write_setup) -> None:
    write_setup('[fewshot]\nk = 4\n', "base/common.toml")
    setup = load_setup(write_setup('extends = "../base/common.toml"\n', "mine/setup.toml"))
    assert setup.fewshot.k == 4
    sibling = load_setup(write_setup('extends = "base/common"\n', "top.toml"))
    assert sibling.fewshot.k == 4


def test_task_path_is_relative_to_the_file_that_names_it(write_setup, tmp_path: Path) -> None:
    write_setup('[task]\npath = "tasks/t.toml"\n', "shared/parent.toml")
    setup = load_setup(write_setup('extends = "shared/parent.toml"\n'))
    assert setup.task.path == str((tmp_path / "shared" / "tasks" / "t.toml").resolve())


def test_bundled_sample_preset_loads_with_its_task() -> None:
    setup = load_setup("samples/arith")
    assert Path(setup.task.path).is_file()
    assert Path(setup.task.path).is_relative_to(PROFILES_DIR)
    assert setup.fewshot.k == 0 and setup.prompt.target == "label"


def test_extends_loop_is_an_error(write_setup) -> None:
    write_setup('extends = "b.toml"\n', "a.toml")
    write_setup('extends = "a.toml"\n', "b.toml")
    message = _error(write_setup('extends = "a.toml"\n'))
    assert "loop" in message
    assert "a.toml" in message and "b.toml" in message


def test_a_file_extending_itself_is_a_loop(write_setup) -> None:
    assert "loop" in _error(write_setup('extends = "setup.toml"\n'))


def test_extends_an_unknown_preset_suggests_the_near_one(write_setup) -> None:
    message = _error(write_setup('extends = "lm-eval/mmluu"\n'))
    assert "lm-eval/mmluu" in message
    assert 'Did you mean "lm-eval/mmlu"?' in message


def test_missing_setup_file_is_an_input_error(tmp_path: Path) -> None:
    assert "not found" in _error(tmp_path / "nowhere.toml")


# ---------------------------------------------------------------------------------------------
# Strict validation


def test_unknown_key_names_file_line_key_and_suggestion(write_setup) -> None:
    path = write_setup('# my setup\n[prompt]\ndescription = ""\ntemplete = "{{ question }}"\n')
    message = _error(path)
    assert str(path.resolve()) in message
    assert "line 4" in message
    assert '"templete"' in message
    assert 'Did you mean "template"?' in message


def test_unknown_key_in_a_parent_names_the_parent_file(write_setup) -> None:
    parent = write_setup('[fewshot]\n\nsampelr = "random"\n', "parent.toml")
    message = _error(write_setup('extends = "parent.toml"\n[fewshot]\nk = 1\n'))
    assert f"{parent.resolve()}, line 3" in message
    assert 'Did you mean "sampler"?' in message


def test_unknown_key_far_from_any_name_has_no_suggestion_but_lists_keys(write_setup) -> None:
    message = _error(write_setup("[fewshot]\nbanana = 1\n"))
    assert "Did you mean" not in message
    assert "k, sampler, seed" in message


def test_unknown_section_is_an_error(write_setup) -> None:
    path = write_setup('[task]\nlimit = 3\n\n[promt]\ntemplate = "x"\n')
    message = _error(path)
    assert str(path.resolve()) in message and "line 4" in message
    assert "[promt]" in message
    assert 'Did you mean "prompt"?' in message


def test_a_section_that_is_not_a_table(write_setup) -> None:
    assert "[prompt] must be a table" in _error(write_setup('prompt = "x"\n'))


def test_unknown_task_field_names_its_line(write_setup) -> None:
    message = _error(write_setup('[task]\nlimit = 1\n\n[task.fields]\nquestoin = "q"\n'))
    assert 'Did you mean "question"?' in message
    assert re.search(r"line [45]\b", message)


def test_unknown_task_field_suggests_the_near_one(write_setup) -> None:
    message = _error(write_setup('[task.fields]\nquestoin = "q"\n'))
    assert '"questoin"' in message and 'Did you mean "question"?' in message


def test_wrong_type_names_key_line_and_type(write_setup) -> None:
    path = write_setup('[fewshot]\nk = "five"\n')
    message = _error(path)
    assert f"{path.resolve()}, line 2" in message
    assert "fewshot.k must be an integer" in message
    assert "'five'" in message


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[fewshot]\nk = 2.5\n", "fewshot.k must be an integer"),
        ("[fewshot]\nk = true\n", "fewshot.k must be an integer"),
        ('[fewshot]\nmultiturn = "yes"\n', "fewshot.multiturn must be true or false"),
        ('[generation]\ntemperature = "hot"\n', "generation.temperature must be a number"),
        ('[generation]\nstop = "\\n"\n', "generation.stop must be a list of strings"),
        ("[generation]\nstop = [1]\n", "generation.stop must be a list of strings"),
        ("[prompt]\ntemplate = 3\n", "prompt.template must be a string"),
    ],
)
def test_wrong_types_are_rejected(write_setup, text: str, needle: str) -> None:
    assert needle in _error(write_setup(text))


def test_bad_enum_value_lists_the_allowed_values(write_setup) -> None:
    message = _error(write_setup('[fewshot]\nsampler = "randm"\n'))
    assert 'fewshot.sampler = "randm" is not allowed' in message
    assert '"first_n", "random"' in message
    assert 'Did you mean "random"?' in message


def test_bad_metric_lists_the_metrics(write_setup) -> None:
    message = _error(write_setup('[scoring]\nmetric = "accuracy"\n'))
    assert "acc_norm" in message and "exact_match" in message


@pytest.mark.parametrize("value", ['"auto"', "1", "64"])
def test_batch_size_auto_or_positive_int(write_setup, value: str) -> None:
    setup = load_setup(write_setup(f"[loading]\nbatch_size = {value}\n"))
    assert setup.loading.batch_size == (value.strip('"') if value.startswith('"') else int(value))


@pytest.mark.parametrize("value", ["0", "-4", '"big"', "true", "2.0"])
def test_batch_size_rejects_the_rest(write_setup, value: str) -> None:
    assert "loading.batch_size" in _error(write_setup(f"[loading]\nbatch_size = {value}\n"))


@pytest.mark.parametrize(("value", "stored"), [("true", "true"), ("false", "false"),
                                               ('"auto"', "auto"), ('"true"', "true")])
def test_add_bos_token_accepts_toml_booleans(write_setup, value: str, stored: str) -> None:
    setup = load_setup(write_setup(f"[loading]\nadd_bos_token = {value}\n"))
    assert setup.loading.add_bos_token == stored


def test_add_bos_token_rejects_other_strings(write_setup) -> None:
    assert "Allowed values" in _error(write_setup('[loading]\nadd_bos_token = "yes"\n'))


def test_malformed_toml_names_file_and_line(write_setup) -> None:
    path = write_setup('[prompt]\ntemplate = "ok"\ndescription = "unterminated\n')
    message = _error(path)
    assert str(path) in message
    assert "line 3" in message
    assert "not valid TOML" in message


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[task]\nlimit = -1\n", "task.limit"),
        ("[fewshot]\nk = -2\n", "fewshot.k"),
        ("[generation]\nmax_new_tokens = 0\n", "at least 1"),
        ("[generation]\ntop_p = 1.5\n", "top_p"),
        ("[generation]\ntemperature = -0.1\n", "temperature"),
        ('[scoring]\nnormalize = ["lowercase"]\n', 'Did you mean "lower"?'),
        ('[scoring]\nextract = "last_numbr"\n', "unknown extractor"),
        ('[loading]\nbackend = "vllm"\ntensor_parallel_size = 0\n', "at least 1"),
        ('[loading]\nbackend = "vllm"\ngpu_memory_utilization = 1.5\n', "at most 1"),
        ('[loading]\nbackend = "vllm"\nmax_model_len = -4\n', "loading.max_model_len must be 0"),
        ('[loading]\nbackend = "vllm"\nenforce_eager = "yes"\n', "true or false"),
    ],
)
def test_out_of_range_values_are_rejected(write_setup, text: str, needle: str) -> None:
    assert needle in _error(write_setup(text))


def test_vllm_settings_pass_through_and_another_backend_refuses_them(write_setup) -> None:
    setup = load_setup(write_setup('[loading]\nbackend = "vllm"\ntensor_parallel_size = 2\n'
                                   'gpu_memory_utilization = 0.8\nmax_model_len = 4096\nenforce_eager = true\n'))
    lo = setup.loading
    assert (lo.tensor_parallel_size, lo.gpu_memory_utilization, lo.max_model_len, lo.enforce_eager) == (2, 0.8, 4096, True)
    path = write_setup('[loading]\nmax_model_len = 4096\n', name="hf.toml")
    message = _error(path)     # silently ignored by transformers, it would be a setting that is not one
    assert f"{path.resolve()}, line 2" in message and "vLLM setting" in message and 'backend = "vllm"' in message


def test_metric_and_method_must_agree(write_setup) -> None:
    path = write_setup('[scoring]\nmethod = "loglikelihood"\nmetric = "exact_match"\n')
    message = _error(path)
    assert f"{path.resolve()}, line 3" in message
    assert "exact_match" in message and '"generate"' in message
    ok = load_setup(write_setup('[scoring]\nmethod = "generate"\nmetric = "exact_match"\n', "ok.toml"))
    assert ok.scoring.metric == "exact_match"


def test_no_choice_labels_needs_text_targets(write_setup) -> None:
    message = _error(write_setup('[prompt]\nchoice_labels = "none"\ntarget = "label"\n'))
    assert 'prompt.target must be "text"' in message
    ok = load_setup(write_setup('[prompt]\nchoice_labels = "none"\ntarget = "text"\n', "ok.toml"))
    assert ok.prompt.choice_labels == "none"


def test_regex_extract_must_compile(write_setup) -> None:
    base = '[scoring]\nmethod = "generate"\nmetric = "exact_match"\n'
    message = _error(write_setup(base + 'extract = "regex:(\\\\d+"\n'))
    assert "does not compile" in message
    ok = load_setup(write_setup(base + 'extract = "regex:The answer is (\\\\d+)"\n', "ok.toml"))
    assert ok.scoring.extract == r"regex:The answer is (\d+)"


# ---------------------------------------------------------------------------------------------
# Digest, variants, round trip

RICH = """\
extends = "lm-eval/mmlu"

[task]
path = "tasks/arith/arith.toml"
limit = 20

[task.fields]
subtask = "subject"

[prompt]
choice_format = "({{ label }}) {{ text }}"
choice_separator = ", "
target = "label_text"

[fewshot]
k = 3
sampler = "random"
seed = 7
order = "reversed"
multiturn = true

[chat]
apply_template = true
system_prompt = "You are careful."
description_in = "user"

[scoring]
metric = "acc_norm"
aggregate = "macro"

[generation]
stop = ["\\n", "Question:"]
temperature = 0.5
top_p = 0.9

[loading]
batch_size = "auto"
add_bos_token = true
dtype = "bfloat16"
"""


def test_digest_is_stable_across_loads(write_setup) -> None:
    first = load_setup(write_setup(RICH, "one.toml"))
    second = load_setup(write_setup(RICH, "two.toml"))
    assert first == second
    assert first.digest == second.digest
    assert re.fullmatch(r"[0-9a-f]{16}", first.digest)


def test_digest_ignores_int_versus_float_spelling(write_setup) -> None:
    a = load_setup(write_setup("[generation]\ntemperature = 0\n", "a.toml"))
    b = load_setup(write_setup("[generation]\ntemperature = 0.0\n", "b.toml"))
    assert a.digest == b.digest


@pytest.mark.parametrize(
    "change",
    [
        {"task.limit": 21},
        {"task.fields": {"subtask": "subject", "gold": "label"}},
        {"prompt.target_delimiter": ""},
        {"prompt.description": "Hi.\n\n"},
        {"fewshot.k": 4},
        {"fewshot.seed": 8},
        {"fewshot.order": "shuffled"},
        {"chat.system_prompt": ""},
        {"scoring.metric": "acc"},
        {"scoring.normalize": ["strip"]},
        {"generation.stop": ["\n"]},
        {"generation.temperature": 0.6},
        {"loading.batch_size": 8},
        {"loading.add_bos_token": "auto"},
        {"loading.dtype": "float32"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_digest_changes_with_any_value(write_setup, change: dict) -> None:
    setup = load_setup(write_setup(RICH))
    changed = setup.with_values(change)
    assert changed != setup
    assert changed.digest != setup.digest


def test_with_values_replaces_one_key_and_validates(write_setup) -> None:
    setup = load_setup(write_setup(RICH))
    variant = setup.with_values({"fewshot.k": 3 + 2})
    assert variant.fewshot.k == 5
    assert variant.with_values({"fewshot.k": 3}) == setup
    assert variant.prompt == setup.prompt and variant.loading == setup.loading
    assert setup.fewshot.k == 3  # the original is untouched (frozen)


def test_with_values_unknown_key_suggests(write_setup) -> None:
    setup = load_setup(write_setup(RICH))
    with pytest.raises(InputError, match=r'"fewshot\.kk" is not a setup key\. Did you mean "fewshot\.k"\?'):
        setup.with_values({"fewshot.kk": 3})
    with pytest.raises(InputError, match="not a setup key"):
        setup.with_values({"nosection.k": 3})


def test_with_values_runs_the_same_validation(write_setup) -> None:
    setup = load_setup(write_setup(RICH))
    with pytest.raises(InputError, match="fewshot.k must be an integer"):
        setup.with_values({"fewshot.k": "3"})
    with pytest.raises(InputError, match="not allowed"):
        setup.with_values({"fewshot.sampler": "randm"})
    with pytest.raises(InputError, match="needs scoring.method"):
        setup.with_values({"scoring.metric": "exact_match"})


def test_get_reads_a_dotted_key(write_setup) -> None:
    setup = load_setup(write_setup(RICH))
    assert setup.get("fewshot.k") == 3
    assert setup.get("loading.batch_size") == "auto"


def test_to_toml_round_trips(write_setup) -> None:
    setup = load_setup(write_setup(RICH))
    again = load_setup(write_setup(setup.to_toml(), "resolved.toml"))
    assert again == setup
    assert again.digest == setup.digest
    assert "extends" not in setup.to_toml()


def test_defaults_round_trip_through_toml(write_setup) -> None:
    assert load_setup(write_setup(Setup().to_toml())) == Setup()


# ---------------------------------------------------------------------------------------------
# Malformed input: a clear error, never a traceback or a silently accepted value


@pytest.mark.parametrize(("line", "key"), [
    ("temperature = nan", "generation.temperature"), ("temperature = inf", "generation.temperature"),
    ("temperature = -inf", "generation.temperature"), ("top_p = nan", "generation.top_p"),
    ("top_p = -nan", "generation.top_p"),
])
def test_a_non_finite_number_is_refused_with_its_line(write_setup, line: str, key: str) -> None:
    """Bug: nan passed every range check (nan < 0 is false) and reached the sampler."""
    path = write_setup(f"[generation]\n{line}\n")
    message = _error(path)
    assert f"{path.resolve()}, line 2" in message and key in message and "finite" in message


def test_a_non_finite_number_is_refused_in_a_variant_too(write_setup) -> None:
    with pytest.raises(InputError, match="finite"):
        load_setup(write_setup("")).with_values({"generation.temperature": float("nan")})


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:0", "cuda:12", "mps", "mps:0"])
def test_device_strings_of_the_allowed_forms_load(write_setup, device: str) -> None:
    assert load_setup(write_setup(f'[loading]\ndevice = "{device}"\n')).loading.device == device


@pytest.mark.parametrize("device", ["tpu:99", "???", "", "cpu:0", "cuda:", "cuda:-1", "CUDA", " cuda", "cuda:0 "])
def test_device_strings_of_other_forms_are_refused(write_setup, device: str) -> None:
    """Bug: "tpu:99" or "???" reached torch and ended in a traceback."""
    path = write_setup(f'[loading]\n\ndevice = "{device}"\n')
    message = _error(path)
    assert f"{path.resolve()}, line 3" in message and "loading.device" in message
    assert '"cuda:N"' in message and '"mps:N"' in message


def test_truncation_is_error_unless_the_setup_asks_for_left(write_setup) -> None:
    assert load_setup(write_setup("")).loading.truncation == "error"
    assert load_setup(write_setup('[loading]\ntruncation = "left"\n', "l.toml")).loading.truncation == "left"
    message = _error(write_setup('[loading]\ntruncation = "right"\n', "r.toml"))
    assert "loading.truncation" in message and '"error", "left"' in message


def test_a_byte_order_mark_is_accepted_and_lines_still_count(write_setup) -> None:
    """Bug: a BOM (Windows editors) gave "Invalid statement (line 1, column 1)"."""
    plain = load_setup(write_setup('[fewshot]\nk = 3\n', "plain.toml"))
    assert load_setup(write_setup('\ufeff[fewshot]\nk = 3\n', "bom.toml")) == plain
    assert "bad.toml, line 3" in _error(write_setup('\ufeff[fewshot]\nk = 1\nsampler = "x"\n', "bad.toml"))


def test_bytes_that_are_not_utf8_name_their_line(tmp_path: Path) -> None:
    path = tmp_path / "setup.toml"
    path.write_bytes(b'[prompt]\ndescription = "caf\xe9"\n')
    message = _error(path)
    assert f"{path}, line 2" in message and "not valid UTF-8" in message


@pytest.mark.parametrize("text", ["x = " + "[" * 100_000, "x = " + "{a=" * 50_000, "x = " + "[" * 5_000])
def test_runaway_nesting_is_an_error_not_a_recursion_error(write_setup, text: str) -> None:
    message = _error(write_setup(text + "\n"))
    assert "nested too deeply" in message and "line 1" in message


def test_a_setup_file_too_big_to_hold_settings_is_refused_unread(write_setup) -> None:
    """Bug: a 10 MB prompt.description was parsed, rendered and tokenized for minutes."""
    message = _error(write_setup('[prompt]\ndescription = "' + "x" * 1_100_000 + '"\n'))
    assert "1,100,0" in message and "1,000,000" in message


def test_a_directory_is_not_reported_as_missing(tmp_path: Path, write_setup) -> None:
    (tmp_path / "adir").mkdir()
    (tmp_path / "adir" / "one.toml").write_text("")
    message = _error(tmp_path / "adir")
    assert "is a directory" in message and "one.toml" in message and "not found" not in message
    extends = _error(write_setup('extends = "adir"\n'))
    assert "setup.toml, line 1: extends" in extends and "is a directory" in extends


def test_a_symlink_loop_is_named_as_one(tmp_path: Path, write_setup) -> None:
    (tmp_path / "loop.toml").symlink_to("loop.toml")
    assert "symbolic link that loops" in _error(tmp_path / "loop.toml")
    assert "symbolic link that loops" in _error(write_setup('extends = "loop.toml"\n'))


def test_a_task_path_that_is_a_directory_or_a_loop_names_the_setup_line(tmp_path: Path, write_setup) -> None:
    (tmp_path / "tasks").mkdir()
    message = _error(write_setup('[task]\nlimit = 2\npath = "tasks"\n'))
    assert "setup.toml, line 3" in message and "task.path" in message and "is a directory" in message
    (tmp_path / "loop.toml").symlink_to("loop.toml")
    message = _error(write_setup('[task]\npath = "loop.toml"\n', "b.toml"))
    assert "b.toml, line 2" in message and "symbolic link" in message


def test_a_missing_task_path_still_loads(write_setup) -> None:
    """A setup may be written before its task: the task loader says it is missing."""
    assert load_setup(write_setup('[task]\npath = "later/t.toml"\n')).task.path.endswith("t.toml")


@pytest.mark.parametrize(("text", "section", "key", "line"), [
    ('[a]\nx = 1\n[b]\nx = 2\n', "b", "x", 4),
    ('a.x = 1\n[b]\n', "a", "x", 1),
    ('[a]\n"x" = 1\n', "a", "x", 2),
    ("[a]\n'x.y' = 1\n", "a", "x.y", 2),
    ('[reported.known]\n"fewshot.k" = 5\n', "reported.known", "fewshot.k", 2),
    ('[reported]\nknown."fewshot.k" = 5\n', "reported.known", "fewshot.k", 2),
    ('[reported]\nknown = { "fewshot.k" = 5 }\n', "reported.known", "fewshot.k", 2),
    ('[ task . fields ]\nq = "x"\n', "task", "fields", 1),
    ('x = """\n[a]\ny = 1\n"""\n[a]\ny = 2\n', "a", "y", 6),
    ("[a]\nx = 1\n", "a", "y", None),
    ("[a]\nx = 1\n", "b", "x", None),
    ('extends = "p"\n', "", "extends", 1),
])
def test_line_of_finds_a_key_however_it_is_written(text: str, section: str, key: str, line: int | None) -> None:
    from scoregap.engine.presets import line_of

    assert line_of(text, section, key) == line


def test_line_of_finds_a_table_made_by_a_longer_key() -> None:
    from scoregap.engine.presets import line_of

    assert line_of('[yours]\nsetup = "x"\nextra.sub = 1\n', "yours", "extra") == 3
    assert line_of('[a]\n[reported.known]\nx = 1\n', "", "reported") == 2
