"""The fake backend and the fake world: scripted, deterministic, torch-free.

The diagnosis tests trust the fake model to do what its file says: know `skill` of the docs,
lose them to an effect only where its regex matches, flip only knife-edge docs under numeric
noise, and give the same result to the same request in any process, batch or order.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fakeworld import (
    evaluate,
    write_fake_model,
    write_mc_task,
    write_qa_task,
    write_session,
    write_setup,
)

from scoregap.engine.backends import backends_for, get_backend
from scoregap.engine.backends.fake import FakeBackend, name_choice
from scoregap.engine.backends.fake_model import (
    FakeModel,
    FakeTokenizer,
    MemorisedDoc,
    read_model,
    split_tokens,
)
from scoregap.engine.cache import Cache
from scoregap.engine.errors import InputError
from scoregap.engine.evaluate import Engine
from scoregap.engine.model import ModelRef, resolve_model
from scoregap.engine.presets import load_setup
from scoregap.engine.progress import Cancelled, NullProgress
from scoregap.engine.requests import Generate, Loglikelihood
from scoregap.engine.session import load_session
from scoregap.engine.setup import LoadingSpec, TaskSpec
from scoregap.engine.tasks import load_task
from scoregap.engine.tokenization import encode

LABELS_1 = {"name": "labels 1", "when": r"(?m)^1\. ", "docs": 0.4, "nats": -3.0}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fake-world")


@pytest.fixture(scope="module")
def mc_task(world: Path) -> Path:
    return write_mc_task(world / "mc", n_docs=160)


@pytest.fixture(scope="module")
def qa_task(world: Path) -> Path:
    return write_qa_task(world / "qa", n_docs=120)


def load(model_dir: Path, **loading: object) -> FakeBackend:
    return FakeBackend.load(resolve_model(str(model_dir)), LoadingSpec(backend="fake", **loading))


def requests_of(setup: Path, model_dir: Path) -> list:
    engine = Engine(resolve_model(str(model_dir)), Cache(setup.parent / "unused-cache"))
    return [r for p in engine.plan(load_setup(setup))[1] for r in p.requests]


def docs_where(model_dir: Path, task: Path, keep: Callable[[FakeModel, MemorisedDoc], bool]) -> set[int]:
    """The doc ids whose memorised doc satisfies keep(model, memorised doc)."""
    model = read_model(model_dir / "fake-model.toml")
    memorised = {d.question: d for d in model.docs}
    return {d.doc_id for d in load_task(TaskSpec(path=str(task))).docs if keep(model, memorised[d.question])}


# -- loglikelihood -----------------------------------------------------------------------------


def test_the_same_request_gives_the_same_result_in_any_instance_batch_or_order(world, mc_task):
    model = write_fake_model(world / "plain", mc_task)
    setup = write_setup(world / "plain-3shot.toml", mc_task, **{"fewshot.k": 3})
    reqs = requests_of(setup, model)[:200]
    first = load(model).loglikelihood(reqs, 1, NullProgress())
    assert load(model).loglikelihood(reqs, 7, NullProgress()) == first
    assert load(model).loglikelihood(reqs[::-1], "auto", NullProgress())[::-1] == first
    assert len({r.logprob for r in first}) > 150            # not a constant
    unknown = Loglikelihood("A question nobody memorised?\nAnswer:", " A")
    unknown_results = [load(model).loglikelihood([unknown], b, NullProgress()) for b in (1, 3)]
    assert unknown_results[0] == unknown_results[1] and not unknown_results[0][0].is_greedy


def test_batch_size_moves_results_only_by_jitter_and_flips_only_close_docs(world, mc_task):
    model = write_fake_model(world / "noisy", mc_task, close=0.3, jitter=0.05)
    setup = write_setup(world / "noisy.toml", mc_task)
    reqs = requests_of(setup, model)
    one, many = (load(model).loglikelihood(reqs, b, NullProgress()) for b in (1, 16))
    assert all(abs(a.logprob - b.logprob) <= 0.05 for a, b in zip(one, many))
    assert sum(a.logprob != b.logprob for a, b in zip(one, many)) > len(reqs) / 2
    scores = {}
    for batch in (1, 16):
        variant = write_setup(world / f"noisy-{batch}.toml", mc_task, **{"loading.batch_size": batch})
        scores[batch] = {s.doc_id: s.score for s in evaluate(variant, model, world / "cache").scores}
    flipped = {d for d in scores[1] if scores[1][d] != scores[16][d]}
    close = docs_where(model, mc_task, lambda m, d: m.is_close(d))
    assert flipped and flipped <= close


@pytest.mark.parametrize("changes", [
    {},
    {"prompt.choice_labels": "a"},
    {"prompt.choice_labels": "1", "fewshot.k": 2},
    {"prompt.choice_labels": "I", "prompt.choice_format": "({{ label }}) {{ text }}"},
    {"prompt.target": "text", "scoring.metric": "acc_norm"},
    {"prompt.target": "label_text", "prompt.choice_labels": "I", "fewshot.k": 3},
    {"prompt.target": "label_text", "prompt.choice_format": "{{ label }}) {{ text }}",
     "scoring.metric": "acc_mutual_info"},
], ids=["A", "a", "1-fewshot", "roman-wrapped", "text", "label_text-fewshot", "label_text-mutual-info"])
def test_skill_decides_the_score_under_every_label_scheme_and_target(world, mc_task, changes):
    setup = write_setup(world / "identify.toml", mc_task, **changes)
    everything = write_fake_model(world / "skill-1", mc_task, skill=1.0)
    nothing = write_fake_model(world / "skill-0", mc_task, skill=0.0)
    assert evaluate(setup, everything, world / "cache", limit=48).result.score == 1.0
    assert evaluate(setup, nothing, world / "cache", limit=48).result.score == 0.0


def test_skill_is_the_fraction_of_docs_the_model_knows(world, mc_task):
    model = write_fake_model(world / "plain", mc_task)
    known = docs_where(model, mc_task, lambda m, d: m.knows(d))
    ev = evaluate(write_setup(world / "plain.toml", mc_task), model, world / "cache")
    assert {s.doc_id for s in ev.scores if s.score == 1.0} == known
    assert 0.6 < len(known) / len(ev.scores) < 0.8


def test_an_effect_costs_the_touched_known_docs_only_where_its_regex_matches(world, mc_task):
    model = write_fake_model(world / "labels", mc_task, effects=[LABELS_1])
    lost = docs_where(model, mc_task, lambda m, d: m.knows(d) and m.effects[0].touches("1. x", m.seed, d))
    variants = {"A": {}, "1.": {"prompt.choice_labels": "1"},
                "1)": {"prompt.choice_labels": "1", "prompt.choice_format": "{{ label }}) {{ text }}"}}
    score = {name: evaluate(write_setup(world / "variant.toml", mc_task, **changes), model, world / "cache").result.score
             for name, changes in variants.items()}
    assert score["A"] - score["1."] == pytest.approx(len(lost) / 160)
    assert 0.18 < score["A"] - score["1."] < 0.38        # about 40% of the ~70% known docs
    assert score["1)"] == score["A"]                     # "1) text" does not match the regex


def test_unless_vetoes_an_effect(world, mc_task):
    cue = {"name": "no answer cue", "when": r"\?\n", "unless": "Answer:", "docs": 1.0, "nats": -3.0}
    model = write_fake_model(world / "cue", mc_task, effects=[cue])
    vetoed = write_setup(world / "cue-vetoed.toml", mc_task)
    reply = "{{ question }}\n{{ choices }}\nReply:"
    applied = write_setup(world / "cue-applied.toml", mc_task, **{"prompt.template": reply})
    assert evaluate(vetoed, model, world / "cache").result.score > 0.6
    assert evaluate(applied, model, world / "cache").result.score == 0.0


@pytest.mark.parametrize("continuation, index, first", [
    (" A", 0, " A"), ("(B)", 1, "(A)"), (" [c]", 2, " [a]"), (" 4.", 3, " 1."), (" III)", 2, " I)"),
    ("D:", 3, "A:"), (" kobame", 1, " tubaso"), (" B. kobame", 1, " A. tubaso"),
    (" (II) kobame", 1, " (I) tubaso"), ("\nd) sarifi", 3, "\na) tubaso"),
    (" none of these", None, None), (" E", None, None),
])
def test_a_continuation_names_its_choice_by_text_label_or_both(continuation, index, first):
    choices = ("tubaso", "kobame", "vetadu", "sarifi")
    naming = name_choice(continuation, choices)
    assert (naming.index if naming else None) == index
    if naming:   # the same rendering for every choice: how a request's siblings are found
        assert naming.sibling(index, choices) == continuation and naming.sibling(0, choices) == first


def test_the_doc_is_the_last_memorised_question_in_the_context(world, mc_task):
    model = write_fake_model(world / "skill-1", mc_task, skill=1.0)
    backend = load(model)
    first, second = backend.model.docs[:2]
    context = f"{first.question}\nAnswer: {first.choices[0]}\n\n{second.question}\nAnswer:"
    assert backend.index.find(context) == second
    results = backend.loglikelihood([Loglikelihood(context, " " + c) for c in second.choices], 1, NullProgress())
    assert [r.is_greedy for r in results] == [j == second.answer for j in range(4)]
    assert min(r.min_margin for r in results) == pytest.approx(2.0)


# -- generation --------------------------------------------------------------------------------


def test_generation_stops_at_a_stop_string_and_scores_the_known_docs(world, qa_task):
    model = write_fake_model(world / "qa-model", qa_task, output="{answer}\n\nQuestion: what next?")
    ev = evaluate(write_setup(world / "qa.toml", qa_task), model, world / "cache")
    known = docs_where(model, qa_task, lambda m, d: m.knows(d))
    assert {s.doc_id for s in ev.scores if s.score == 1.0} == known
    assert {s.raw["finish_reason"] for s in ev.scores} == {"stop"}
    golds = {d.doc_id: d.gold[0] for d in ev.task.docs}
    wrong = [s for s in ev.scores if s.doc_id not in known]
    assert wrong and all(0 < int(s.raw["generation"]) - int(golds[s.doc_id]) <= 5 for s in wrong)


def test_generation_stops_at_max_new_tokens_or_ends(world, qa_task):
    backend = load(write_fake_model(world / "qa-wordy", qa_task, skill=1.0, output="The answer is {answer}."))
    doc = backend.model.docs[0]
    short, full = backend.generate([Generate(f"Question: {doc.question}\nAnswer:", n, ()) for n in (2, 50)],
                                   16, NullProgress())
    assert (short.text, short.finish_reason, short.n_tokens) == ("The answer", "length", 2)
    assert (full.text, full.finish_reason, full.n_tokens) == (f"The answer is {doc.answer}.", "eos", 4)


def test_sampling_flips_are_fixed_by_seed_and_prompt(world, qa_task):
    model = write_fake_model(world / "qa-sampled", qa_task, skill=1.0, sampling_flip=0.5)
    docs = read_model(model / "fake-model.toml").docs
    prompts = [f"Question: {d.question}\nAnswer:" for d in docs]

    def texts(seed: int, temperature: float = 0.8) -> list[str]:
        reqs = [Generate(p, 32, ("\n\n",), temperature, 1.0, seed) for p in prompts]
        return [r.text for r in load(model).generate(reqs, 8, NullProgress())]

    golds = [d.answer for d in docs]
    assert texts(0, temperature=0.0) == golds
    assert texts(1) == texts(1)
    flipped = [sum(t != g for t, g in zip(texts(seed), golds)) / len(golds) for seed in (1, 2)]
    assert all(0.35 < f < 0.65 for f in flipped) and texts(1) != texts(2)


def test_an_effect_rewrites_the_output_of_touched_docs(world, qa_task):
    hedge = {"name": "hedge", "when": "Answer:$", "docs": 0.5, "nats": -1.0, "output": "maybe {answer}"}
    model = write_fake_model(world / "qa-hedge", qa_task, skill=1.0, effects=[hedge])
    ev = evaluate(write_setup(world / "qa.toml", qa_task), model, world / "cache")
    touched = docs_where(model, qa_task, lambda m, d: m.effects[0].touches("Answer:", m.seed, d))
    assert {s.doc_id for s in ev.scores if s.raw["generation"].startswith("maybe ")} == touched
    assert {s.doc_id for s in ev.scores if s.score == 0.0} == touched and 40 < len(touched) < 80


# -- tokenizer and chat template ---------------------------------------------------------------


def test_tokens_are_words_with_their_space_and_specials_whole():
    tok = FakeTokenizer()
    pieces = ("<s>", "Hello", " ", " world", "\n", "\t", "x", "<|end|>", "y")
    assert split_tokens("<s>Hello  world\n\tx<|end|>y") == pieces
    ids = tok.encode("Answer: B")
    assert ids[0] == tok.bos_token_id and len(ids) == 3
    assert tok.encode("Answer: B", add_special_tokens=False) == ids[1:]
    assert tok.decode(ids) == "<s>Answer: B"
    assert tok.batch_decode([ids], skip_special_tokens=True) == ["Answer: B"]


def test_the_chat_template_writes_bos_so_auto_adds_no_second_one(world, mc_task):
    tok = FakeTokenizer(chat_template=True)
    text = tok.apply_chat_template([{"role": "system", "content": "Be brief."},
                                    {"role": "user", "content": "Hi?"}])
    assert text == "<s><|system|>Be brief.<|end|><|user|>Hi?<|end|><|assistant|>"
    assert encode(tok, text, "auto")[:2] == [1, 3] and encode(tok, text, "true")[:2] == [1, 1]
    model = write_fake_model(world / "chat", mc_task, skill=1.0, chat_template=True)
    for bos, doubled in (("auto", False), ("true", True)):
        changes = {"chat.apply_template": True, "loading.add_bos_token": bos}
        setup = write_setup(world / f"chat-{bos}.toml", mc_task, **changes)
        results = load(model).loglikelihood(requests_of(setup, model)[:8], 4, NullProgress())
        assert {r.doubled_bos for r in results} == {doubled}
        assert evaluate(setup, model, world / "cache", limit=40).result.score == 1.0
    engine = Engine(resolve_model(str(model)), Cache(world / "cache"))
    pieces = engine.model_input(load_setup(world / "chat-auto.toml")).tokens
    assert pieces[:2] == ((1, "<s>"), (4, "<|user|>"))
    no_chat = write_fake_model(world / "plain", mc_task)
    with pytest.raises(InputError, match="no chat template"):
        evaluate(world / "chat-auto.toml", no_chat, world / "cache")


# -- engine, cache, files, imports -------------------------------------------------------------


def test_a_cached_evaluation_makes_no_model_calls(world, mc_task, tmp_path):
    model = write_fake_model(world / "plain", mc_task)
    setup = load_setup(write_setup(world / "plain.toml", mc_task))
    runs = []
    for _ in range(2):
        cache = Cache(tmp_path / "cache")
        engine = Engine(resolve_model(str(model), cache=cache), cache)
        runs.append((engine.evaluate(setup).result.score, engine.calls.total))
    assert runs[0][1] == 4 * 160 and runs[1] == (runs[0][0], 0)


def test_the_backend_registers_as_fake_and_claims_its_directories(world, mc_task):
    model = resolve_model(str(write_fake_model(world / "plain", mc_task)))
    cls = get_backend("fake")
    assert cls is FakeBackend and backends_for(model) == ("fake",)
    not_fake = ModelRef("mc", str(world / "mc"), "", "no-fingerprint")
    assert cls.accepts(model) == "" and "no fake-model.toml" in cls.accepts(not_fake)
    assert cls.resolve_device("auto") == "cpu" and cls.versions() == {"fake_backend": 1}


@pytest.mark.parametrize("text, key", [
    ("skil = 0.5\n", 'Did you mean "skill"'),
    ('skill = "high"\n', "skill"),
    ("close = 1.5\n", "close"),
    ('[[effect]]\nname = "x"\nwhen = "("\nnats = -1.0\n', "when"),
    ('[[doc]]\nquestion = "Q?"\nchoices = ["a", "b"]\nanswer = 2\n', "answer"),
    ("seed = \n", "not valid TOML"),
    ('nonfinite = "("\n', "nonfinite"),
    ("nonfinite = 1\n", "nonfinite"),
])
def test_a_malformed_model_file_is_an_input_error_naming_the_file_and_key(tmp_path, text, key):
    (tmp_path / "fake-model.toml").write_text(text)
    with pytest.raises(InputError) as err:
        load(tmp_path)
    assert str(tmp_path / "fake-model.toml") in str(err.value) and key in str(err.value)


def test_nonfinite_scripts_nan_logits_for_the_requests_it_matches(world, mc_task, qa_task, tmp_path):
    """The batch holding a matched request fails like a real one with NaN logits: it names its
    first matched request and returns nothing."""
    from scoregap.engine.requests import NonFiniteOutput

    for task in (mc_task, qa_task):
        model = write_fake_model(tmp_path / task.stem, task)
        path = model / "fake-model.toml"
        path.write_text('nonfinite = "Item (3|7):"\n' + path.read_text())
        reqs = requests_of(write_setup(tmp_path / f"{task.stem}.toml", task), model)
        matched = [i for i, r in enumerate(reqs)
                   if re.search("Item (3|7):", r.context if isinstance(r, Loglikelihood) else r.prompt)]
        call = load(model).loglikelihood if task == mc_task else load(model).generate
        with pytest.raises(NonFiniteOutput) as info:
            call(reqs, len(reqs), NullProgress())
        assert info.value.index == matched[0] and info.value.indices == tuple(matched)
        clean = [r for i, r in enumerate(reqs) if i not in matched]
        assert len(call(clean, 8, NullProgress())) == len(clean)


def test_cancel_stops_between_batches_after_reporting_progress():
    class CancelAfterFirst:
        advanced: list[int] = []

        def start(self, label: str, total: int) -> None: ...
        def finish(self) -> None: ...
        def advance(self, n: int) -> None: self.advanced.append(n)
        def cancelled(self) -> bool: return bool(self.advanced)

    backend = FakeBackend(FakeModel())
    progress = CancelAfterFirst()
    with pytest.raises(Cancelled):
        backend.loglikelihood([Loglikelihood("Q?", f" {i}") for i in range(10)], 4, progress)
    assert progress.advanced == [4]


def test_the_builder_writes_tasks_and_a_session_with_a_computed_score(world, tmp_path):
    sizes = {"alpha": 30, "beta": 20}
    blocks = load_task(TaskSpec(path=str(write_mc_task(tmp_path / "b", subtasks=sizes, interleave=False))))
    mixed = load_task(TaskSpec(path=str(write_mc_task(tmp_path / "m", subtasks=sizes))))
    assert [d.subtask for d in blocks.docs] == ["alpha"] * 30 + ["beta"] * 20
    assert mixed.subtasks == ("alpha", "beta") and [d.subtask for d in mixed.docs][:30] != ["alpha"] * 30
    questions = [d.question for d in mixed.docs + mixed.fewshot]
    assert not any(a != b and a in b for a in questions for b in questions)
    assert {d.gold[0] for d in mixed.docs} == {0, 1, 2, 3}
    task = tmp_path / "m" / "fake_mc.toml"
    model = write_fake_model(tmp_path / "model", task, effects=[LABELS_1])
    yours = write_setup(tmp_path / "yours.toml", task, **{"prompt.choice_labels": "1"})
    theirs = write_setup(tmp_path / "theirs.toml", task)
    session = load_session(write_session(tmp_path / "s.toml", model, yours, reported_setup=theirs,
                                         known={"fewshot.k": 0}, cache_dir=tmp_path / "cache"))
    assert session.reported_score == evaluate(theirs, model, tmp_path / "cache").result.score
    assert session.known == {"fewshot.k": 0} and session.yours.prompt.choice_labels == "1"


def test_an_evaluation_end_to_end_imports_neither_torch_nor_transformers(world, mc_task):
    model = write_fake_model(world / "plain", mc_task)
    setup = write_setup(world / "plain.toml", mc_task)
    code = (
        "import json, sys\n"
        "import scoregap.engine.backends.fake\n"
        "from scoregap.engine.cache import Cache\n"
        "from scoregap.engine.evaluate import Engine\n"
        "from scoregap.engine.model import resolve_model\n"
        "from scoregap.engine.presets import load_setup\n"
        f"cache = Cache({str(world / 'subprocess-cache')!r})\n"
        f"ev = Engine(resolve_model({str(model)!r}, cache=cache), cache).evaluate(load_setup({str(setup)!r}))\n"
        "print(json.dumps([ev.result.score, [m for m in ('torch', 'transformers') if m in sys.modules]]))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    score, heavy = json.loads(done.stdout.strip().splitlines()[-1])
    assert heavy == [] and score == evaluate(setup, model, world / "cache").result.score


def test_the_model_input_loads_its_tokenizer_as_the_setup_says_trust_remote_code(world, mc_task, monkeypatch):
    """The prompt pane and the report read `Engine.model_input`; its tokenizer must be loaded with
    the setup's trust_remote_code, as the backend loads it (a model whose tokenizer is code needs it)."""
    from scoregap.engine.backends.fake import FakeBackend

    seen: list[bool] = []
    real = FakeBackend.load_tokenizer.__func__

    def recording(cls, model, loading):
        seen.append(loading.trust_remote_code)
        return real(cls, model, loading)

    monkeypatch.setattr(FakeBackend, "load_tokenizer", classmethod(recording))
    model = write_fake_model(world / "plain", mc_task)
    engine = Engine(resolve_model(str(model)), Cache(world / "cache"))
    for trust in (False, True):
        setup = write_setup(world / f"trust-{trust}.toml", mc_task, **{"loading.trust_remote_code": trust})
        assert engine.model_input(load_setup(setup)).tokens
    assert seen == [False, True]     # one load each: the tokenizer is kept per trust_remote_code
