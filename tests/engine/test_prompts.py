"""Prompt rendering: the exact strings every prompt, few-shot and chat factor produces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scoregap.engine.errors import InputError
from scoregap.engine.presets import load_setup
from scoregap.engine.prompts import PromptBuilder, choice_labels
from scoregap.engine.setup import Setup
from scoregap.engine.tasks import Task, TaskSpec, load_task

DOCS = [
    {"question": "What is 2 plus 3?", "choices": ["four", "five", "six", "seven"], "answer": 1,
     "subject": "high_school_math", "hint": "count"},
    {"question": "What day comes after Monday?", "choices": ["Sunday", "Tuesday", "Friday"],
     "answer": 1, "subject": "calendar", "hint": "days"},
]
SHOTS = [
    {"question": f"Shot {i}?", "choices": [f"s{i}a", f"s{i}b"], "answer": i % 2,
     "subject": "high_school_math", "hint": "-"}
    for i in range(8)
]

TASK_TOML = """\
name = "inline"
kind = "multiple_choice"
docs = "inline.test.jsonl"
fewshot = "inline.dev.jsonl"
[fields]
subtask = "subject"
"""

MMLU_DESCRIPTION = "The following are multiple choice questions (with answers) about high school math.\n\n"
DOC0 = "What is 2 plus 3?\nA. four\nB. five\nC. six\nD. seven\nAnswer:"


@pytest.fixture(scope="module")
def task_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("inline-task")
    (folder / "inline.toml").write_text(TASK_TOML, encoding="utf-8")
    (folder / "inline.test.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    (folder / "inline.dev.jsonl").write_text("".join(json.dumps(d) + "\n" for d in SHOTS))
    return folder / "inline.toml"


@pytest.fixture(scope="module")
def task(task_path: Path) -> Task:
    return load_task(TaskSpec(path=str(task_path)))


@pytest.fixture(scope="module")
def mmlu(task_path: Path) -> Setup:
    """lm-eval's MMLU layout on the inline task, 0-shot."""
    return load_setup("lm-eval/mmlu").with_values({"task.path": str(task_path), "fewshot.k": 0})


@pytest.fixture(scope="module")
def plain(task_path: Path) -> Setup:
    """The defaults (A. text, "Answer:", label targets) with no description."""
    return Setup().with_values({"task.path": str(task_path)})


@pytest.fixture(scope="module")
def chat(tiny_tokenizer: Any):  # noqa: ANN201
    def render(messages: list[dict[str, str]]) -> str:
        return tiny_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    return render


def render(setup: Setup, task: Task, doc: int = 0, chat: Any = None, **values: Any):  # noqa: ANN201
    if values:
        setup = setup.with_values({k.replace("__", "."): v for k, v in values.items()})
    return PromptBuilder(setup, task, chat).render(task.docs[doc])


# ---------------------------------------------------------------------------------------------
# Layout, labels, wrappers, targets


def test_mmlu_layout(mmlu: Setup, task: Task) -> None:
    prompt = render(mmlu, task)
    assert prompt.context == MMLU_DESCRIPTION + DOC0
    assert prompt.continuations == (" A", " B", " C", " D")
    assert prompt.targets == ("A", "B", "C", "D")


def test_template_sees_doc_fields_and_helpers(plain: Setup, task: Task) -> None:
    prompt = render(
        plain, task, doc=1,
        prompt__template="[{{ hint }}|{{ doc.subject }}|{{ choice_list | join('/') }}|"
                         "{{ labels | join('') }}] {{ question }}",
    )
    assert prompt.context == "[days|calendar|Sunday/Tuesday/Friday|ABC] What day comes after Monday?"


@pytest.mark.parametrize(
    ("style", "block"),
    [
        ("A", "A. four\nB. five\nC. six\nD. seven"),
        ("a", "a. four\nb. five\nc. six\nd. seven"),
        ("1", "1. four\n2. five\n3. six\n4. seven"),
        ("I", "I. four\nII. five\nIII. six\nIV. seven"),
    ],
)
def test_choice_label_styles(plain: Setup, task: Task, style: str, block: str) -> None:
    prompt = render(plain, task, prompt__choice_labels=style)
    assert prompt.context == f"What is 2 plus 3?\n{block}\nAnswer:"
    labels = [line.split(".")[0] for line in block.split("\n")]
    assert prompt.continuations == tuple(" " + label for label in labels)


def test_no_labels_lists_bare_choices_and_scores_the_text(plain: Setup, task: Task) -> None:
    prompt = render(plain, task, prompt__choice_labels="none", prompt__target="text")
    assert prompt.context == "What is 2 plus 3?\nfour\nfive\nsix\nseven\nAnswer:"
    assert prompt.continuations == (" four", " five", " six", " seven")


def test_roman_labels_stop_at_twelve() -> None:
    assert choice_labels("I", 12)[-1] == "XII"
    with pytest.raises(InputError, match="12"):
        choice_labels("I", 13)


def test_choice_wrapper_and_separator(plain: Setup, task: Task) -> None:
    prompt = render(plain, task, prompt__choice_format="({{ label }}) {{ text }}",
                    prompt__choice_separator=", ")
    assert prompt.context == "What is 2 plus 3?\n(A) four, (B) five, (C) six, (D) seven\nAnswer:"
    assert prompt.continuations == (" A", " B", " C", " D")


@pytest.mark.parametrize(
    ("target", "continuations"),
    [
        ("label", (" A", " B", " C", " D")),
        ("text", (" four", " five", " six", " seven")),
        ("label_text", (" A. four", " B. five", " C. six", " D. seven")),
    ],
)
def test_target_styles(plain: Setup, task: Task, target: str, continuations: tuple) -> None:
    prompt = render(plain, task, prompt__target=target)
    assert prompt.context == DOC0
    assert prompt.continuations == continuations
    assert prompt.targets == tuple(c[1:] for c in continuations)


def test_label_text_target_follows_the_wrapper(plain: Setup, task: Task) -> None:
    prompt = render(plain, task, prompt__target="label_text", prompt__choice_format="[{{ label }}] {{ text }}")
    assert prompt.continuations[1] == " [B] five"


@pytest.mark.parametrize(("delimiter", "first"), [("", "A"), (" ", " A"), ("\n", "\nA")])
def test_target_delimiter(plain: Setup, task: Task, delimiter: str, first: str) -> None:
    prompt = render(plain, task, prompt__target_delimiter=delimiter)
    assert prompt.context == DOC0
    assert prompt.continuations[0] == first


# ---------------------------------------------------------------------------------------------
# Few-shot


def _shot(i: int, target: str | None = None) -> str:
    label = target if target is not None else "AB"[i % 2]
    return f"Shot {i}?\nA. s{i}a\nB. s{i}b\nAnswer: {label}"


def test_fewshot_first_n_exact_text(mmlu: Setup, task: Task) -> None:
    prompt = render(mmlu, task, fewshot__k=2)
    assert prompt.context == MMLU_DESCRIPTION + _shot(0) + "\n\n" + _shot(1) + "\n\n" + DOC0
    assert prompt.continuations == (" A", " B", " C", " D")


def test_fewshot_delimiters_are_used(plain: Setup, task: Task) -> None:
    prompt = render(plain, task, fewshot__k=2, prompt__target_delimiter="=",
                    prompt__fewshot_delimiter="\n###\n")
    expected_shots = "".join(_shot(i).replace("Answer: ", "Answer:=") + "\n###\n" for i in range(2))
    assert prompt.context == expected_shots + DOC0
    assert prompt.continuations[0] == "=A"


def test_fewshot_order_reversed(plain: Setup, task: Task) -> None:
    prompt = render(plain, task, fewshot__k=3, fewshot__order="reversed")
    assert prompt.context == "".join(_shot(i) + "\n\n" for i in (2, 1, 0)) + DOC0


def test_fewshot_targets_follow_the_target_style(plain: Setup, task: Task) -> None:
    prompt = render(plain, task, fewshot__k=1, prompt__target="label_text")
    assert prompt.context.startswith("Shot 0?\nA. s0a\nB. s0b\nAnswer: A. s0a\n\n")


def _shot_ids(setup: Setup, task: Task, doc: int) -> list[str]:
    builder = PromptBuilder(setup, task)
    return [d.question for d in builder.shots(task.docs[doc])]


def test_random_sampler_is_deterministic_per_doc(plain: Setup, task: Task) -> None:
    setup = plain.with_values({"fewshot.k": 3, "fewshot.sampler": "random"})
    first = [_shot_ids(setup, task, d) for d in (0, 1)]
    assert first == [_shot_ids(setup, task, d) for d in (0, 1)]
    again = PromptBuilder(setup, task)  # the other doc first: a doc's shots do not depend on order
    assert [d.question for d in again.shots(task.docs[1])] == first[1]
    assert len(set(first[0])) == 3
    assert first[0] != first[1]  # shots are drawn per doc
    assert render(setup, task).context == render(setup, task).context


def test_random_sampler_differs_across_seeds(plain: Setup, task: Task) -> None:
    draws = {
        tuple(_shot_ids(plain.with_values({"fewshot.k": 3, "fewshot.sampler": "random",
                                           "fewshot.seed": seed}), task, 0))
        for seed in (1, 2, 3, 4)
    }
    assert len(draws) > 1


def test_shuffled_order_is_a_seeded_permutation(plain: Setup, task: Task) -> None:
    sampled = plain.with_values({"fewshot.k": 5})
    shuffled = sampled.with_values({"fewshot.order": "shuffled"})
    assert sorted(_shot_ids(shuffled, task, 0)) == sorted(_shot_ids(sampled, task, 0))
    assert _shot_ids(shuffled, task, 0) == _shot_ids(shuffled, task, 0)
    orders = {tuple(_shot_ids(shuffled.with_values({"fewshot.seed": s}), task, 0)) for s in range(4)}
    assert len(orders) > 1


def test_more_shots_than_the_pool_is_an_input_error(plain: Setup, task: Task) -> None:
    with pytest.raises(InputError, match=r"fewshot.k = 9.*only 8"):
        PromptBuilder(plain.with_values({"fewshot.k": 9}), task)


# ---------------------------------------------------------------------------------------------
# Description and chat templates


def test_description_is_rendered_with_the_doc(plain: Setup, task: Task) -> None:
    prompt = render(plain, task, doc=1, prompt__description="About {{ subject }}:\n")
    assert prompt.context.startswith("About calendar:\nWhat day comes after Monday?")


def test_description_and_system_prompt_without_chat(plain: Setup, task: Task) -> None:
    prompt = render(plain, task, prompt__description="Desc.", chat__system_prompt="Sys.")
    assert prompt.context == "Sys.\n\nDesc." + DOC0


def test_chat_puts_description_in_system_and_shots_in_one_user_turn(plain: Setup, task: Task, chat: Any) -> None:
    prompt = render(plain, task, chat=chat, chat__apply_template=True, fewshot__k=2,
                    prompt__description="Desc.")
    user = _shot(0) + "\n\n" + _shot(1) + "\n\n" + DOC0
    assert prompt.context == (
        f"<s><|system|>\nDesc.</s>\n<|user|>\n{user}</s>\n<|assistant|>\n"
    )
    assert prompt.continuations == ("A", "B", "C", "D")  # no target delimiter under chat


def test_chat_system_prompt_comes_before_the_description(plain: Setup, task: Task, chat: Any) -> None:
    prompt = render(plain, task, chat=chat, chat__apply_template=True, chat__system_prompt="Sys.",
                    prompt__description="Desc.")
    assert prompt.context == f"<s><|system|>\nSys.\n\nDesc.</s>\n<|user|>\n{DOC0}</s>\n<|assistant|>\n"


def test_chat_multiturn_gives_user_assistant_pairs(plain: Setup, task: Task, chat: Any) -> None:
    prompt = render(plain, task, chat=chat, chat__apply_template=True, fewshot__k=2,
                    fewshot__multiturn=True, prompt__description="Desc.")
    shot = [s.rsplit("\nAnswer: ", 1) for s in (_shot(0), _shot(1))]
    assert prompt.context == (
        "<s><|system|>\nDesc.</s>\n"
        f"<|user|>\n{shot[0][0]}\nAnswer:</s>\n<|assistant|>\n{shot[0][1]}</s>\n"
        f"<|user|>\n{shot[1][0]}\nAnswer:</s>\n<|assistant|>\n{shot[1][1]}</s>\n"
        f"<|user|>\n{DOC0}</s>\n<|assistant|>\n"
    )
    roles = [m.role for m in prompt.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]


def test_chat_description_in_user_turn(plain: Setup, task: Task, chat: Any) -> None:
    prompt = render(plain, task, chat=chat, chat__apply_template=True, chat__description_in="user",
                    fewshot__k=1, prompt__description="Desc.\n\n")
    assert prompt.context == f"<s><|user|>\nDesc.\n\n{_shot(0)}\n\n{DOC0}</s>\n<|assistant|>\n"
    assert "<|system|>" not in prompt.context


def test_chat_needs_a_template(plain: Setup, task: Task) -> None:
    with pytest.raises(InputError, match="no chat template"):
        PromptBuilder(plain.with_values({"chat.apply_template": True}), task, None)


# ---------------------------------------------------------------------------------------------
# Template errors and the sandbox


def test_undefined_variable_names_the_key_and_the_doc(plain: Setup, task: Task) -> None:
    setup = plain.with_values({"prompt.template": "{{ question }} {{ missing_field }}"})
    with pytest.raises(InputError) as info:
        PromptBuilder(setup, task).render(task.docs[1])
    message = str(info.value)
    assert "prompt.template" in message
    assert "doc 1" in message and str(task.source) in message
    assert "missing_field" in message


def test_undefined_variable_in_the_description(plain: Setup, task: Task) -> None:
    setup = plain.with_values({"prompt.description": "About {{ topic }}"})
    with pytest.raises(InputError, match="prompt.description"):
        PromptBuilder(setup, task).render(task.docs[0])


def test_template_syntax_error_names_the_key(plain: Setup, task: Task) -> None:
    setup = plain.with_values({"prompt.choice_format": "{{ label }. {{ text }}"})
    with pytest.raises(InputError, match="prompt.choice_format is not a valid Jinja2 template"):
        PromptBuilder(setup, task)


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ question.__class__.__mro__[1].__subclasses__() }}",
        "{{ lipsum.__globals__ }}",
        "{{ cycler.__init__.__globals__ }}",
    ],
)
def test_sandbox_blocks_introspection(plain: Setup, task: Task, template: str) -> None:
    setup = plain.with_values({"prompt.template": template})
    with pytest.raises(InputError, match="prompt.template failed to render"):
        PromptBuilder(setup, task).render(task.docs[0])


@pytest.mark.parametrize(
    "template",
    [
        "{{ doc.update({'question': 'hacked'}) }}",
        "{{ doc.pop('question') }}",
        "{{ choice_list.append('x') }}",
        "{{ doc.clear() }}",
    ],
)
def test_sandbox_blocks_mutation(plain: Setup, task: Task, template: str) -> None:
    doc = task.docs[0]
    before = dict(doc.data)
    setup = plain.with_values({"prompt.template": template})
    with pytest.raises(InputError, match="prompt.template failed to render"):
        PromptBuilder(setup, task).render(doc)
    assert dict(doc.data) == before
    assert render(plain, task).context == DOC0  # the doc still renders as before


@pytest.mark.parametrize("template", ["{{ 1 // 0 }}", "{% for i in range(10**7) %}{% endfor %}"])
def test_any_template_failure_is_an_input_error(plain: Setup, task: Task, template: str) -> None:
    setup = plain.with_values({"prompt.template": template})
    with pytest.raises(InputError, match="prompt.template failed to render"):
        PromptBuilder(setup, task).render(task.docs[0])


@pytest.mark.parametrize("source", [
    "{{ label }}. {{ text }}", "({{label}}) {{ text }}\n", "{{ question }}\n{{ choices }}\nAnswer:", "plain text",
    "{{ question }} {{ n }} {{ missing_is_none }} {{ flag }}", "",
    "{{ label|lower }}) {{ text }}", "{% if n %}{{ text }}{% endif %}", "{{- text -}}", "{{ text }} {# note #}",
])
def test_plain_templates_render_exactly_as_jinja_does(source: str) -> None:
    from scoregap.engine.prompts import _ENV, Template

    values = {"label": "B", "text": "43 plums", "question": "How many?\n", "choices": "A. x\nB. y", "n": 3,
              "missing_is_none": None, "flag": True}
    assert Template(source).render(values) == _ENV.from_string(source).render(**values)


def test_a_plain_template_with_an_unknown_name_fails_as_jinja_does() -> None:
    from scoregap.engine.prompts import Template

    with pytest.raises(Exception, match="nope"):
        Template("{{ nope }}").render({"text": "x"})


# ---------------------------------------------------------------------------------------------
# Size limits: a runaway template or a huge doc fails fast with the limit in the message

BOMBS = [
    "{{ 'x' * 2000000000 }}", "{{ ['x'] * 2000000000 }}", "{{ 'x'.center(2000000000) }}",
    "{{ 'x'.ljust(2000000000) }}", "{{ 'x'.zfill(2000000000) }}", "{{ 'x' | center(2000000000) }}",
    "{{ 'x' | indent(2000000000) }}", "{{ '%2000000000d' % 1 }}", "{{ '%*d' % (2000000000, 1) }}",
    "{{ '%2000000000d' | format(1) }}", "{{ '{:2000000000}'.format(1) }}", "{{ '{:{w}}'.format(1, w=2000000000) }}",
    "{{ 7 ** 2000000000 }}", "{{ [1] | tojson(indent=2000000000) }}", "{{ [1] | batch(2000000000, 0) | list }}",
    "{{ ('x' * 900000) | replace('', 'yy') }}", "{{ ('x' * 900000).replace('', 'yy') }}",
    "{{ (['xxxxxxxxxx'] * 900000) | join }}", "{{ '-'.join(['xxxxxxxxxx'] * 900000) }}",
    "{{ ('x' * 999999) + ('x' * 999999) }}", "{% set q = 'x' * 999999 %}{{ q ~ q ~ q }}",
    "{% set q = 'x' * 999999 %}{% set b %}{{ q }}{{ q }}{% endset %}{{ b | length }}",
    "{% set ns = namespace(s='xx') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
    "{% macro f(s, n) %}{{ f(s ~ s, n - 1) if n else s }}{% endmacro %}{{ f('x', 60) }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{{ ('\\t' * 999) .expandtabs(2000000000) }}",
]


@pytest.mark.parametrize("template", BOMBS)
def test_a_template_cannot_build_a_huge_value(plain: Setup, task: Task, template: str) -> None:
    """Bug: these passed the sandbox and hung (or took all memory) before any message."""
    import time

    setup = plain.with_values({"prompt.template": template})
    began = time.perf_counter()
    with pytest.raises(InputError) as info:
        PromptBuilder(setup, task).render(task.docs[0])
    assert time.perf_counter() - began < 5
    message = str(info.value)
    assert "prompt.template failed to render for doc 0" in message and "1,000,000" in message


@pytest.mark.parametrize("key", ["prompt.description", "prompt.choice_format"])
def test_every_template_key_is_bounded(plain: Setup, task: Task, key: str) -> None:
    setup = plain.with_values({key: "{{ 'x' * 2000000000 }}"})
    with pytest.raises(InputError, match=f"{key} failed to render.*1,000,000"):
        PromptBuilder(setup, task).render(task.docs[0])


@pytest.mark.parametrize("source", [
    "{{ question ~ '!' ~ 3 ~ none }}", "{% for c in choice_list %}{{ loop.index }}={{ c | upper }};{% endfor %}",
    "{{ '%-6s|' % label }}{{ '{:>5}'.format(text) }}", "{{ choice_list | join(', ') }} {{ 'ab' * 3 }}",
    "{% set ns = namespace(s='') %}{% for i in range(3) %}{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.s }}",
    "{{ text | center(12) }}|{{ text | indent(2, true) }}|{{ [1, 2] | tojson }}|{{ 2 ** 10 }}",
    "{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m(label) }}{{ text.replace('plums', 'pears') }}",
])
def test_bounded_templates_render_as_stock_jinja_does(source: str) -> None:
    """The checks change nothing for a template within the limits."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from scoregap.engine.prompts import Template

    stock = ImmutableSandboxedEnvironment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    values = {"label": "B", "text": "43 plums", "question": "How many?", "choice_list": ["x", "y"]}
    assert Template(source).render(values) == stock.from_string(source).render(**values)


def test_a_huge_doc_fails_fast_naming_the_doc_and_its_size(tmp_path: Path, plain: Setup) -> None:
    """Bug: a 10 MB question was rendered, then tokenized for over a minute."""
    import time

    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "t.toml").write_text('kind = "multiple_choice"\ndocs = "t.jsonl"\n')
    rows = [DOCS[0], {**DOCS[1], "question": "x" * 10_000_000}]
    (folder / "t.jsonl").write_text("".join(json.dumps(d) + "\n" for d in rows))
    began = time.perf_counter()
    task = load_task(TaskSpec(path=str(folder / "t.toml")))
    setup = plain.with_values({"task.path": str(folder / "t.toml")})
    with pytest.raises(InputError) as info:
        PromptBuilder(setup, task).render(task.docs[1])
    assert time.perf_counter() - began < 5
    message = str(info.value)
    assert "doc 1" in message and "t.jsonl, line 2" in message and "10,000,0" in message and "1,000,000" in message


def test_a_whole_prompt_is_bounded_too(tmp_path: Path, plain: Setup) -> None:
    """Each piece under the template limit, but shots add up past the prompt limit."""
    folder = tmp_path / "shots"
    folder.mkdir()
    (folder / "t.toml").write_text('kind = "multiple_choice"\ndocs = "t.jsonl"\nfewshot = "p.jsonl"\n')
    (folder / "t.jsonl").write_text(json.dumps(DOCS[0]) + "\n")
    pool = [{**SHOTS[i], "question": "y" * 900_000} for i in range(3)]
    (folder / "p.jsonl").write_text("".join(json.dumps(d) + "\n" for d in pool))
    task = load_task(TaskSpec(path=str(folder / "t.toml")))
    setup = plain.with_values({"task.path": str(folder / "t.toml"), "fewshot.k": 3})
    with pytest.raises(InputError) as info:
        PromptBuilder(setup, task).render(task.docs[0])
    message = str(info.value)
    assert "the prompt of doc 0" in message and "2,000,000" in message and "3 shots" in message


def test_roman_labels_past_twelve_name_the_task_and_the_doc(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    (folder / "t.toml").write_text('kind = "multiple_choice"\ndocs = "t.jsonl"\n')
    rows = [DOCS[0], {"question": "Pick.", "choices": [f"c{i}" for i in range(13)], "answer": 0}]
    (folder / "t.jsonl").write_text("".join(json.dumps(d) + "\n" for d in rows))
    task = load_task(TaskSpec(path=str(folder / "t.toml")))
    setup = Setup().with_values({"task.path": str(folder / "t.toml"), "prompt.choice_labels": "I"})
    with pytest.raises(InputError) as info:
        PromptBuilder(setup, task).render(task.docs[1])
    message = str(info.value)
    assert "doc 1" in message and str(folder / "t.toml") in message and "t.jsonl, line 2" in message
    assert "13 choices" in message and '"A"' in message


def test_small_range_loops_still_work(plain: Setup, task: Task) -> None:
    setup = plain.with_values({"prompt.template": "{% for i in range(3) %}{{ i }}{% endfor %} {{ question }}"})
    assert PromptBuilder(setup, task).render(task.docs[0]).context.startswith("012 What is 2 plus 3?")
