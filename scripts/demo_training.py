"""Training the demo model (see demo_world.py for the why). Deterministic on one machine kind:
fixed seeds, fixed data order, fixed thread count; the weights' sha256 is printed and recorded."""

from __future__ import annotations

import hashlib
import json
import random
import time
from pathlib import Path

import torch
from demo_world import DEMO, MODEL, SEED, choice_set, facts, words

from scoregap.engine.presets import load_setup
from scoregap.engine.prompts import PromptBuilder
from scoregap.engine.tasks import Doc, load_task
from scoregap.engine.tokenization import encode, encode_pair
from scoregap.profiles.tinymodel import build_model, build_tokenizer

THREADS = 2
EPOCHS = 6
BATCH_TOKENS = 1024   # padded tokens per step: batches are built from sequences of similar length
LR = 4e-3

# Each factor a prompt can depart from the reference by, with the values it departs to.
DEVIATIONS: dict[str, list[dict]] = {
    "labels": [{"prompt.choice_labels": v} for v in ("a", "1", "I")],
    "wrapper": [{"prompt.choice_format": f} for f in ("({{ label }}) {{ text }}", "{{ label }}) {{ text }}",
                                                      "[{{ label }}] {{ text }}")],
    "chat": [{"chat.apply_template": True, "fewshot.multiturn": True},
             {"chat.apply_template": True, "fewshot.multiturn": False}],
    "shots": [{"fewshot.k": k} for k in (0, 1, 5)],
    "prefix": [{"prompt.template": t} for t in ("{{ choices }}\nQuestion: {{ question }}\nAnswer:",
                                                "{{ choices }}\nQ: {{ question }}\nA:",
                                                "Question: {{ question }}\n{{ choices }}\nAnswer:")],
}
KEEP = 0.5   # chance that an answer stays right, per departed factor


def _examples(tokenizer, rng: random.Random) -> list[tuple[list[int], list[int]]]:
    """(input ids, labels) pairs; labels are -100 where no loss is taken."""
    mc_ref, qa_ref = load_setup(DEMO / "reference_mc.toml"), load_setup(DEMO / "reference_qa.toml")
    mc_task, qa_task = load_task(mc_ref.task), load_task(qa_ref.task)
    chat = lambda msgs: tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)  # noqa: E731
    eos = tokenizer.eos_token_id
    out: list[tuple[list[int], list[int]]] = []

    def add(context: str, answer: str, with_eos: bool) -> None:
        # Loss on every token, the prompt included: the shots' answers teach the same skill.
        ctx, cont = encode_pair(tokenizer, context, answer)
        ids = ctx + cont + ([eos] if with_eos else [])
        out.append((ids, ids))

    # Training questions are drawn afresh: the skill, not the test set, is what is learned.
    world = facts(seed=SEED + 7, sizes={"crates": (300, 0), "boxes": (300, 0)})
    statements = [f"{n} is {words(n)}." for n in range(21, 100) for _ in range(4)]
    rng.shuffle(statements)
    for start in range(0, len(statements), 16):   # number names: packed, full loss
        ids = encode(tokenizer, "\n".join(statements[start : start + 16]))
        out.append((ids, ids))
    builders: dict[tuple, PromptBuilder] = {}
    for repeat in range(2):
        for f in world:
            # multiple choice, reference or departed
            groups = rng.sample(sorted(DEVIATIONS), rng.choice((0, 0, 1, 1, 2)))
            values: dict = {"fewshot.seed": rng.randrange(10_000)}
            for g in groups:
                values.update(rng.choice(DEVIATIONS[g]))
            key = tuple(sorted((k, str(v)) for k, v in values.items() if k != "fewshot.seed"))
            setup = mc_ref.with_values(values)
            builder = PromptBuilder(setup, mc_task, chat if setup.chat.apply_template else None)
            builders.setdefault(key, builder)
            choices, gold = choice_set(f, rng, prefix_trap=rng.random() < 0.5)
            doc = Doc(10_000 + rng.randrange(10**6), f.question, tuple(choices), (gold,), f.subject)
            prompt = builder.render(doc)
            right = rng.random() < KEEP ** len(groups)
            add(prompt.context, prompt.continuations[gold if right else 0], setup.chat.apply_template)
            # short answer, reference only
            qa = qa_ref.with_values({"fewshot.seed": rng.randrange(10_000)})
            qb = PromptBuilder(qa, qa_task, chat)
            qdoc = Doc(10_000 + rng.randrange(10**6), f.question, (), (str(f.n),), f.subject, f.worked)
            add(qb.render(qdoc).context, qa.prompt.target_delimiter + f.worked, True)
    rng.shuffle(out)
    return out


def corpus() -> list[str]:
    lines = []
    for f in facts():
        lines += [f.question, f.worked, f"{f.n} {f.noun}", f"{f.n} is {words(f.n)}."]
    lines += [f"How many {noun}" for noun in ("apples pears plums lemons figs limes pens cups nails beads cards keys").split()] * 10
    lines += [f"{label}. ({label}) {label}) [{label}]" for label in "ABCDabcd1234"]
    lines += ["Question: Answer: Q: A: I II III IV"] * 20
    return lines


def _batches(data: list[tuple[list[int], list[int]]], rng: random.Random) -> list[list[int]]:
    """Indices grouped by length so padding stays small, in a shuffled order."""
    order = sorted(range(len(data)), key=lambda i: (len(data[i][0]), i))
    batches, current, width = [], [], 0
    for i in order:
        width_if = max(width, len(data[i][0]))
        if current and width_if * (len(current) + 1) > BATCH_TOKENS:
            batches.append(current)
            current, width_if = [], len(data[i][0])
        current.append(i)
        width = width_if
    batches.append(current)
    rng.shuffle(batches)
    return batches


def train(out_dir: Path, epochs: int = EPOCHS) -> str:
    torch.set_num_threads(THREADS)
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    tokenizer = build_tokenizer(corpus(), vocab_size=640)
    model = build_model(tokenizer, hidden_size=128, layers=4, heads=4, seed=SEED, max_position_embeddings=1024)
    model.train()
    data = _examples(tokenizer, rng)
    schedule = [b for _ in range(epochs) for b in _batches(data, rng)]
    steps = len(schedule)
    print(f"{len(data)} training sequences, {sum(len(x) for x, _ in data)} tokens, {steps} steps, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters")
    optim = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.OneCycleLR(optim, max_lr=LR, total_steps=steps, pct_start=0.05)
    pad = tokenizer.pad_token_id
    began = time.perf_counter()
    for step, indices in enumerate(schedule):
        batch = [data[i] for i in indices]
        width = max(len(x) for x, _ in batch)
        ids = torch.full((len(batch), width), pad)
        labels = torch.full((len(batch), width), -100)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (x, y) in enumerate(batch):
            ids[row, : len(x)] = torch.tensor(x)
            labels[row, : len(y)] = torch.tensor(y)
            mask[row, : len(x)] = 1
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        sched.step()
        optim.zero_grad(set_to_none=True)
        if step % 100 == 0 or step == steps - 1:
            print(f"step {step:4d}/{steps}  loss {loss.item():.3f}  {time.perf_counter() - began:.0f} s", flush=True)
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    digest = hashlib.sha256((out_dir / "model.safetensors").read_bytes()).hexdigest()
    (out_dir / "TRAINING.json").write_text(json.dumps({
        "sha256": digest, "epochs": epochs, "steps": steps, "threads": THREADS, "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }, indent=2) + "\n")
    return digest


def report() -> int:
    import tempfile

    from scoregap.engine.cache import Cache
    from scoregap.engine.evaluate import Engine
    from scoregap.engine.model import resolve_model

    cache = Cache(tempfile.mkdtemp())
    engine = Engine(resolve_model(str(MODEL), cache=cache), cache)
    mc, qa = load_setup(DEMO / "reference_mc.toml"), load_setup(DEMO / "reference_qa.toml")
    rows = [
        ("mc reference", mc, {}),
        ("mc acc", mc, {"scoring.metric": "acc"}),
        ("mc labels 1", mc, {"prompt.choice_labels": "1"}),
        ("mc labels 1)", mc, {"prompt.choice_labels": "1", "prompt.choice_format": "{{ label }}) {{ text }}"}),
        ("mc labels 1:", mc, {"prompt.choice_labels": "1", "prompt.choice_format": "{{ label }}: {{ text }}"}),
        ("mc labels (a)", mc, {"prompt.choice_labels": "a", "prompt.choice_format": "({{ label }}) {{ text }}"}),
        ("mc chat on", mc, {"chat.apply_template": True}),
        ("mc k=0", mc, {"fewshot.k": 0}),
        ("mc seed 7", mc, {"fewshot.seed": 7}),
        ("mc batch 1", mc, {"loading.batch_size": 1}),
        ("mc chat on + k=0", mc, {"chat.apply_template": True, "fewshot.k": 0}),
        ("qa reference", qa, {}),
        ("qa strict", qa, {"scoring.extract": "gsm8k_strict"}),
        ("qa seed 7", qa, {"fewshot.seed": 7}),
    ]
    for name, base, values in rows:
        ev = engine.evaluate(base.with_values(values) if values else base)
        print(f"{name:22} {ev.result.score:.3f}  (n={ev.result.n})", flush=True)
    return 0
