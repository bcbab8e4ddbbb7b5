"""Write small synthetic replicas of seven hub datasets, in the hub's layout and schema, for offline tests.

Why replicas: lm-evaluation-harness and scoregap's hub reader both go through
`datasets.load_dataset(folder, config, split=...)`, and many score gaps start in the data itself (a
label that is a string, choices labelled "1".."4", brackets left in a context). Tests need those
shapes offline, without the real datasets. Each replica is laid out as the hub lays out a parquet
repository, in a folder named after the hub id with "/" as "__":

    <out>/allenai__ai2_arc/README.md                                  `configs:` and `dataset_info`
    <out>/allenai__ai2_arc/ARC-Challenge/test-00000-of-00001.parquet  a named config
    <out>/Rowan__hellaswag/data/train-00000-of-00001.parquet          `config_name: default`

Column names and arrow types are those lm-eval 0.4.13 reads; the text is generated English-ish from
seeds fixed per (dataset, config), so rerunning writes identical bytes. What each one mimics:

- `allenai/ai2_arc` (ARC-Challenge, ARC-Easy; train 32, validation 12, test 12): `choices` is a
  struct of two lists {text, label}. Row i with i % 6 == 2 is labelled "1".."4" (answerKey "3"),
  i % 6 == 4 has three choices, i % 6 == 5 has five ("A".."E"); 32 train rows allow a 25-shot draw.
- `Rowan/hellaswag` (default; train 16, validation 12, test 8): `ind` int32, `label` a string. Odd rows
  are WikiHow: "[header]", " [title]" and "[step]" in `ctx`, " [title]" and "[substeps]" in the
  endings, double spaces; rows with i % 4 == 1 have an empty `ctx_b`. ActivityNet rows have a
  `ctx_b` that starts lowercase (lm-eval capitalizes it). Test labels are "", as on the hub.
- `cais/mmlu` (one config per `MMLU_SUBJECTS`; dev 5, validation 4, test 8): `answer` int64 0..3.
  Row i with i % 5 == 3 has a question with surrounding whitespace (lm-eval strips it);
  high_school_us_history carries multi-line source passages, abstract_algebra "Statement 1 |" pairs.
- `openai/gsm8k` (main; train 10, test 12): worked answers with `<<48/2=24>>` annotations ending in
  "#### N". Kinds cycle by row: totals over 1,000 written with commas after "####", a negative
  temperature, a decimal per-day rate.
- `allenai/winogrande` (winogrande_xl; train 10, validation 12): one "_" per sentence, twin
  sentences, `answer` "1" or "2".
- `truthfulqa/truthful_qa` (multiple_choice; validation 12): `mc1_targets` and `mc2_targets` are
  structs {choices, labels: int32}; mc1 has one 1, first; mc2 has 2-4 ones first; 4-9 choices.
- `baber/piqa` (default; train 12, validation 12): `label` int64 0/1.

    python scripts/make_replicas.py --out DIR                      # all replicas
    python scripts/make_replicas.py --out DIR --only cais/mmlu     # some (repeat --only)
"""

from __future__ import annotations

import argparse
import difflib
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

Row = dict[str, object]
MakeRow = Callable[[random.Random, str, str, int], Row]
"""(rng, config, split, row index) -> one row; the rng is shared by all splits of a config."""

MMLU_SUBJECTS = ("abstract_algebra", "college_biology", "high_school_us_history", "us_foreign_policy")

STRINGS = pa.list_(pa.string())


@dataclass(frozen=True)
class Replica:
    hub_id: str
    configs: tuple[str, ...]
    counts: tuple[tuple[str, int], ...]
    """(split, rows per config), in the order the card lists them."""
    schema: pa.Schema
    make_row: MakeRow
    unique: str
    """The column whose stripped value never repeats within a config (no question in two splits)."""

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(split for split, _ in self.counts)

    @property
    def folder_name(self) -> str:
        return self.hub_id.replace("/", "__")

    def data_dir(self, config: str) -> str:
        """Where push_to_hub puts a config's files: `data/` for the default one, else its name."""
        return "data" if config == "default" else config


def _pick(rng: random.Random, items: Sequence[str], k: int, avoid: str = "") -> list[str]:
    return rng.sample([item for item in items if item != avoid], k)


def _place(rng: random.Random, correct: str, wrong: Sequence[str]) -> tuple[list[str], int]:
    """The choices with the correct one at a random position, and that position."""
    gold = rng.randrange(len(wrong) + 1)
    choices = list(wrong)
    choices.insert(gold, correct)
    return choices, gold


# allenai/ai2_arc ------------------------------------------------------------------------------------

ARC_CONTEXTS = ("", "", "Students are studying the world around them.",
                "During a science class, a teacher asks a question.", "Mr. Lopez shows his class a short video.",
                "A group of students takes notes on a field trip.", "A fourth-grade class is reviewing for a test.",
                "Ms. Chen writes on the board.")
ARC_MEASURES = (("the mass of {}", ("a small rock", "an apple", "a lump of clay"), "a balance"),
                ("the length of {}", ("a pencil", "a leaf", "a metal spoon"), "a metric ruler"),
                ("the volume of {}", ("a cup of water", "a glass of juice", "some cooking oil"), "a graduated cylinder"),
                ("the temperature of {}", ("a pond", "a cup of tea", "the air in a classroom"), "a thermometer"),
                ("how long it takes {} to roll down a ramp", ("a toy car", "a marble", "a ball"), "a stopwatch"),
                ("the air pressure {}", ("before a storm", "on a mountain top", "at sunrise"), "a barometer"))
ARC_RENEWABLE = ("wind", "sunlight", "flowing water", "trees", "geothermal heat")
ARC_NONRENEWABLE = ("coal", "oil", "natural gas", "uranium", "peat")
ARC_PHASES = (("ice", "is left in a warm room", "It melts into a liquid."),
              ("water", "is placed in a freezer", "It freezes into a solid."),
              ("a puddle", "sits in the sun all day", "It evaporates into water vapor."),
              ("steam", "touches a cold mirror", "It condenses into droplets."),
              ("sugar", "is stirred into hot tea", "It dissolves and can no longer be seen."))
ARC_PHASE_WRONG = ("It stays exactly the same.", "It turns into a new metal.")
ARC_ADAPTATIONS = (("a polar bear", "the Arctic", "thick fur and a layer of fat"),
                   ("a cactus", "the desert", "a waxy coating that keeps water in"),
                   ("a duck", "a pond", "webbed feet"), ("an owl", "a dark forest", "large eyes that see in dim light"),
                   ("a chameleon", "the rain forest", "skin that changes color"),
                   ("a camel", "a sandy desert", "wide feet that do not sink"))


def _arc_stem(rng: random.Random) -> tuple[str, str, list[str]]:
    kind = rng.randrange(4)
    if kind == 0:
        quantity, things, tool = rng.choice(ARC_MEASURES)
        stem = f"A student wants to measure {quantity.format(rng.choice(things))}. Which tool should the student use?"
        return stem, tool, [t for _, _, t in ARC_MEASURES if t != tool]
    if kind == 1:
        stem = rng.choice(("Which of these energy sources is renewable?",
                           "A town wants a power plant that uses a renewable resource. Which resource should it use?"))
        return stem, rng.choice(ARC_RENEWABLE), list(ARC_NONRENEWABLE)
    if kind == 2:
        substance, process, answer = rng.choice(ARC_PHASES)
        stem = f"What most likely happens to {substance} when it {process}?"
        return stem, answer, [a for _, _, a in ARC_PHASES if a != answer] + list(ARC_PHASE_WRONG)
    animal, habitat, answer = rng.choice(ARC_ADAPTATIONS)
    stem = f"Which adaptation best helps {animal} survive in {habitat}?"
    return stem, answer, [a for _, _, a in ARC_ADAPTATIONS if a != answer]


def _arc_row(rng: random.Random, config: str, split: str, index: int) -> Row:
    stem, correct, pool = _arc_stem(rng)
    size, numeric = {2: (4, True), 4: (3, False), 5: (5, False)}.get(index % 6, (4, False))
    choices, gold = _place(rng, correct, rng.sample(pool, size - 1))
    labels = list("12345"[:size] if numeric else "ABCDE"[:size])
    source = "NYSEDREGENTS_{}_4_{}" if numeric else rng.choice(("Mercury_{}{}", "MCAS_{}_8_{}", "ACTAAP_{}_7_{}"))
    return {"id": source.format(rng.randint(1998, 2015), rng.randint(1, 99999)),
            "question": f"{rng.choice(ARC_CONTEXTS)} {stem}".strip(),
            "choices": {"text": choices, "label": labels}, "answerKey": labels[gold]}


# Rowan/hellaswag ------------------------------------------------------------------------------------

HELLASWAG_ACTORS = (("A man is", "he", "the man"), ("A woman is", "she", "the woman"),
                    ("A young girl is", "she", "the girl"), ("A boy is", "he", "the boy"),
                    ("Two friends are", "they", "the friends"))
HELLASWAG_ACTIVITIES = (
    ("Washing dishes", "standing at a kitchen sink full of plates",
     ("scrubs a plate with a yellow sponge and rinses it under the tap.", "stacks the clean glasses on a rack.",
      "fills the sink with soapy water and drops in the pans.")),
    ("Playing violin", "sitting on a stool in a small room",
     ("lifts the bow and plays a slow tune while tapping a foot.", "tightens the strings and checks the tuning.",
      "bows to the camera and lowers the instrument.")),
    ("Shoveling snow", "outside a house after a storm",
     ("pushes the shovel along the driveway and throws the snow aside.",
      "clears the front steps and sprinkles salt on the path.", "leans on the shovel and wipes snow from a hat.")),
    ("Kayaking", "paddling a kayak down a fast river",
     ("steers around a rock and rides the rapids to calmer water.",
      "raises the paddle and waves to the people on the shore.", "flips upside down and rolls back up.")),
    ("Brushing a dog", "kneeling next to a large dog on the lawn",
     ("runs a brush through the dog's coat from head to tail.",
      "pulls a clump of fur from the brush and drops it in a bag.", "gives the dog a treat and pats its back.")),
)
WIKIHOW_TASKS = (
    ("Home and Garden", "clean a fridge",
     ("Take everything out of the fridge", "Mix warm water with baking soda", "Wipe every shelf with a soft cloth",
      "Put the food back in")),
    ("Food and Entertaining", "make iced tea",
     ("Boil four cups of water", "Steep the tea bags for five minutes", "Stir in the sugar while the tea is warm",
      "Pour it over ice")),
    ("Personal Care and Style", "tie a scarf",
     ("Drape the scarf around your neck", "Cross the long end over the short end", "Pull the end up through the loop",
      "Adjust the knot so it sits flat")),
    ("Pets and Animals", "bathe a cat",
     ("Trim your cat's claws first", "Fill a tub with a few inches of warm water", "Lather the fur with cat shampoo",
      "Dry the cat with a towel")),
    ("Finance and Business", "save for a trip",
     ("Decide how much the trip will cost", "Open a separate savings account", "Set aside a fixed amount each week",
      "Cut one small expense")),
)
WIKIHOW_DETAILS = ("This makes the next steps much easier.", "Work slowly so you do not miss a spot.",
                   "You may want to ask a friend to help.", "If you are unsure, check the label first.",
                   "Take your time and do not rush.")


def _hellaswag_activitynet(rng: random.Random) -> tuple[str, str, str, str, list[str]]:
    label, scene, actions = rng.choice(HELLASWAG_ACTIVITIES)
    actor, pronoun, noun = rng.choice(HELLASWAG_ACTORS)
    correct = rng.choice(actions)
    ctx_a = f"{actor} {scene}." + rng.choice(("", "  The camera zooms in.", " A crowd watches from nearby."))
    wrong = _pick(rng, [a for _, _, others in HELLASWAG_ACTIVITIES if others != actions for a in others], 3)
    return label, ctx_a, rng.choice((pronoun, noun, f"then {pronoun}")), correct, wrong


def _wikihow_ending(rng: random.Random, steps: Sequence[str]) -> str:
    first, second = rng.sample(list(steps), 2)
    detail = rng.choice(WIKIHOW_DETAILS)
    return rng.choice((f"{first}. [substeps] {detail}", f"{first}.  {detail} [title] {second}. [step] {detail}",
                       f"{detail} [title] {first}."))


def _hellaswag_wikihow(rng: random.Random, empty_ctx_b: bool) -> tuple[str, str, str, str, list[str]]:
    label, task, steps = rng.choice(WIKIHOW_TASKS)
    ctx_a = f"[header] How to {task} [title] {steps[0]}. [step] {rng.choice(WIKIHOW_DETAILS)}"
    others = [s for _, _, other in WIKIHOW_TASKS if other != steps for s in other]
    correct = _wikihow_ending(rng, steps[1:])
    wrong = [_wikihow_ending(rng, rng.sample(others, 2)) for _ in range(3)]
    if " [title]" not in correct + "".join(wrong):
        wrong[0] = f"{wrong[0]} [title] {rng.choice(others)}."
    ctx_b = "" if empty_ctx_b else rng.choice(("you", "if you", "once you", "make sure you"))
    return label, ctx_a, ctx_b, correct, wrong


def _hellaswag_row(rng: random.Random, config: str, split: str, index: int) -> Row:
    if index % 2:
        label, ctx_a, ctx_b, correct, wrong = _hellaswag_wikihow(rng, empty_ctx_b=index % 4 == 1)
        source = f"wikihow~{rng.randint(1000, 99999)}"
    else:
        label, ctx_a, ctx_b, correct, wrong = _hellaswag_activitynet(rng)
        source = "activitynet~v_" + "".join(rng.choice("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ0123456789-_")
                                            for _ in range(11))
    endings, gold = _place(rng, correct, wrong)
    start = {"train": 0, "validation": 40000, "test": 50000}[split]
    return {"ind": start + 7 * index + rng.randrange(7), "activity_label": label, "ctx_a": ctx_a, "ctx_b": ctx_b,
            "ctx": f"{ctx_a} {ctx_b}" if ctx_b else ctx_a, "endings": endings, "source_id": source,
            "split": {"validation": "val"}.get(split, split),
            "split_type": "indomain" if split == "train" or index % 3 else "zeroshot",
            "label": "" if split == "test" else str(gold)}


# cais/mmlu ------------------------------------------------------------------------------------------

ALGEBRA_STATEMENTS = (("Every group of prime order is cyclic.", True), ("Every abelian group is cyclic.", False),
                      ("The symmetric group S_3 is abelian.", False), ("A field has no zero divisors.", True),
                      ("Every subgroup of a cyclic group is cyclic.", True), ("Every integral domain is a field.",
                                                                              False),
                      ("The order of an element of a finite group divides the order of the group.", True))
HISTORY_LINES = ("We hold that the people of these states have a right to govern themselves.",
                 "The factories have drawn our sons and daughters away from the farms.",
                 "No nation can remain half free while the rails carry goods to every market.",
                 "The frontier has given each generation a second chance.",
                 "Our wages fall while the trusts grow rich.",
                 "Let the government protect the laborer as it protects the banker.")
HISTORY_SOURCES = ("Speech to a farmers' alliance, 1891", "Letter to a newspaper editor, 1912",
                   "Address at a labor convention, 1886", "Pamphlet circulated in Ohio, 1874")
HISTORY_STEMS = ("The sentiments expressed in the passage most directly reflect which of the following?",
                 "Which of the following developments most directly shaped the views in the excerpt?",
                 "The author of the passage would most likely have supported which of the following?")
HISTORY_DEVELOPMENTS = ("The growth of industrial labor unions", "The expansion of railroads into the West",
                        "The rise of the Populist movement", "Debates over the gold standard",
                        "Progressive calls for regulation of business", "The migration of workers to cities",
                        "The end of Reconstruction in the South", "Immigration from southern and eastern Europe")
ORGANELLES = (("mitochondrion", ("ATP production", "the citric acid cycle", "oxidative phosphorylation")),
              ("chloroplast", ("photosynthesis", "carbon fixation", "capturing light energy")),
              ("ribosome", ("protein synthesis", "translation of mRNA", "peptide bond formation")),
              ("lysosome", ("breaking down worn-out organelles", "digesting engulfed particles",
                            "hydrolysis of macromolecules")),
              ("nucleus", ("storing DNA", "transcription of genes", "assembling ribosomal subunits")))
POLICY_CONCEPTS = (("the Truman Doctrine", "A pledge to support free peoples resisting subjugation"),
                   ("the Monroe Doctrine", "A warning against European colonization in the Americas"),
                   ("the Marshall Plan", "Economic aid to rebuild postwar Western Europe"),
                   ("containment", "Preventing the spread of Soviet influence without direct war"),
                   ("detente", "An easing of tensions between the superpowers in the 1970s"),
                   ("the Nixon Doctrine", "Asking allies to provide for their own defense"),
                   ("multilateralism", "Pursuing goals through international institutions and coalitions"),
                   ("the Bush Doctrine", "A claimed right to act preemptively against emerging threats"))
POLICY_STEMS = ("Which of the following best describes {}?", "Which statement most accurately characterizes {}?",
                "In the study of US foreign policy, {} refers to which of the following?")


def _numbers(rng: random.Random, correct: int | str, near: Sequence[int | str]) -> tuple[list[str], int]:
    wrong = list(dict.fromkeys(str(n) for n in near if str(n) != str(correct)))[:3]
    return _place(rng, str(correct), rng.sample(wrong, 3))


def _mmlu_algebra(rng: random.Random) -> tuple[str, list[str], int]:
    kind = rng.randrange(3)
    if kind == 0:
        (first, a), (second, b) = rng.sample(ALGEBRA_STATEMENTS, 2)
        choices = ["True, True", "False, False", "True, False", "False, True"]
        return f"Statement 1 | {first} Statement 2 | {second}", choices, choices.index(f"{a}, {b}")
    n = rng.choice((6, 8, 10, 12, 15, 18, 20, 24, 30))
    if kind == 1:
        k = rng.randrange(2, n)
        order = n // math.gcd(k, n)
        choices, gold = _numbers(rng, order, (n, k, order * 2, max(1, order - 1), order + 1, n - k))
        return f"Find the order of the element {k} in the group Z_{n}.", choices, gold
    m = rng.choice((2, 3, 4, 5, 6))
    lcm = n * m // math.gcd(n, m)
    choices, gold = _numbers(rng, lcm, (0, n * m, n + m, n, m, 1))
    return f"Find the characteristic of the ring Z_{n} x Z_{m}.", choices, gold


def _mmlu_history(rng: random.Random) -> tuple[str, list[str], int]:
    lines = " ".join(rng.sample(HISTORY_LINES, rng.randint(1, 3)))
    passage = f'"{lines}"\n—{rng.choice(HISTORY_SOURCES)}'
    question = f"This question refers to the following information.\n{passage}\n{rng.choice(HISTORY_STEMS)}"
    correct, *wrong = rng.sample(HISTORY_DEVELOPMENTS, 4)
    choices, gold = _place(rng, correct, wrong)
    return question, choices, gold


def _mmlu_biology(rng: random.Random) -> tuple[str, list[str], int]:
    if rng.random() < 0.4:
        q = rng.choice((0.1, 0.2, 0.3, 0.4, 0.6, 0.7))
        allele = rng.choice(("recessive", "dominant"))
        stem = (f"In a population in Hardy-Weinberg equilibrium, the frequency of the {allele} allele is {q}. "
                "What is the expected frequency of heterozygotes?")
        values = [round(2 * q * (1 - q), 2), round(q * q, 2), round((1 - q) ** 2, 2), round(q / 2, 3)]
        choices, gold = _numbers(rng, values[0], values[1:] + [round(1 - q, 2)])
        return stem, choices, gold
    (organelle, functions), (_, foreign) = rng.sample(ORGANELLES, 2)
    if rng.random() < 0.5:
        choices, gold = _place(rng, rng.choice(foreign), list(functions))
        return f"Which of the following is NOT a function of the {organelle}?", choices, gold
    wrong = rng.sample([f for name, fs in ORGANELLES if name != organelle for f in fs], 3)
    choices, gold = _place(rng, rng.choice(functions), wrong)
    stem = f"A cell that lacks a working {organelle} would be unable to carry out which of the following?"
    return stem, choices, gold


def _mmlu_policy(rng: random.Random) -> tuple[str, list[str], int]:
    (concept, description), *others = rng.sample(POLICY_CONCEPTS, 4)
    choices, gold = _place(rng, description, [d for _, d in others])
    return rng.choice(POLICY_STEMS).format(concept), choices, gold


MMLU_MAKERS = {"abstract_algebra": _mmlu_algebra, "college_biology": _mmlu_biology,
               "high_school_us_history": _mmlu_history, "us_foreign_policy": _mmlu_policy}


def _mmlu_row(rng: random.Random, config: str, split: str, index: int) -> Row:
    question, choices, gold = MMLU_MAKERS[config](rng)
    if index % 5 == 3:
        question = rng.choice((f" {question}", f"{question} ", f"{question}\n", f"  {question}  "))
    return {"question": question, "subject": config, "choices": choices, "answer": gold}


# openai/gsm8k ---------------------------------------------------------------------------------------

PEOPLE = (("Natalia", "she", "her"), ("Weng", "he", "his"), ("Betty", "she", "her"), ("James", "he", "his"),
          ("Julie", "she", "her"), ("Albert", "he", "his"), ("Tina", "she", "her"), ("Mark", "he", "his"))
MONTHS = ("March", "April", "May", "June", "July", "August")
GOODS = (("chairs", "A", "school"), ("laptops", "An", "office"), ("tents", "A", "summer camp"),
         ("bicycles", "A", "rental shop"))
TOWNS = ("Fairview", "Lakeside", "Millbrook", "Cedar Falls", "Riverton")


def _calc(expr: str, value: float) -> str:
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{expr} = <<{expr}={shown}>>{shown}"


def _gsm8k_problem(rng: random.Random, kind: int) -> tuple[str, list[str], float | int]:
    name, she, her = rng.choice(PEOPLE)
    if kind == 0:
        a, month = 2 * rng.randint(12, 48), rng.randrange(len(MONTHS) - 1)
        m1, m2 = MONTHS[month], MONTHS[month + 1]
        h = a // 2
        question = (f"{name} sold clips to {a} of {her} friends in {m1}, and then {she} sold half as many clips in "
                    f"{m2}. How many clips did {name} sell altogether in {m1} and {m2}?")
        return question, [f"{name} sold {_calc(f'{a}/2', h)} clips in {m2}.",
                          f"{name} sold {_calc(f'{a}+{h}', a + h)} clips altogether in {m1} and {m2}."], a + h
    if kind == 1:
        (item, article, buyer), n, price = rng.choice(GOODS), rng.randint(30, 90), rng.randint(40, 80)
        fee = 10 * rng.randint(2, 9)
        question = (f"{article} {buyer} orders {n} {item} for ${price} each and pays a ${fee} delivery fee. "
                    f"How much does the {buyer} pay in total?")
        cost = n * price
        return question, [f"The {item} cost {_calc(f'{n}*{price}', cost)} dollars.",
                          f"With delivery, the total is {_calc(f'{cost}+{fee}', cost + fee)} dollars."], cost + fee
    if kind == 2:
        start, drop = rng.randint(2, 15), rng.randint(16, 30)
        question = (f"At 6 p.m. the temperature in {rng.choice(TOWNS)} was {start} degrees. By midnight it had "
                    f"dropped {drop} degrees. What was the temperature at midnight, in degrees?")
        return question, [f"The temperature at midnight was {_calc(f'{start}-{drop}', start - drop)} degrees."], \
            start - drop
    if kind == 3:
        days = rng.choice((2, 4, 5, 8))
        miles = days * rng.randint(1, 6) + rng.randint(1, days - 1)
        question = (f"{name} walks {miles} miles each week, split evenly over {days} days. How many miles does "
                    f"{she} walk each day?")
        return question, [f"{name} walks {_calc(f'{miles}/{days}', miles / days)} miles each day."], miles / days
    if kind == 4:
        a, b, c, d = rng.randint(60, 120), rng.randint(2, 6), rng.randint(3, 8), rng.randint(5, 25)
        given = b * c
        question = (f"{name} has {a} stickers. {she.capitalize()} gives {b} stickers to each of {her} {c} friends "
                    f"and then buys {d} more. How many stickers does {name} have now?")
        return question, [f"{name} gives away {_calc(f'{b}*{c}', given)} stickers.",
                          f"{she.capitalize()} has {_calc(f'{a}-{given}', a - given)} stickers left.",
                          f"After buying more, {she} has {_calc(f'{a - given}+{d}', a - given + d)} stickers."], \
            a - given + d
    rate, hours = rng.randint(15, 45), rng.randint(1, 4)
    question = f"A printer prints {rate} pages per minute. How many pages does it print in {hours} hours?"
    minutes = 60 * hours
    return question, [f"There are {_calc(f'60*{hours}', minutes)} minutes in {hours} hours.",
                      f"The printer prints {_calc(f'{rate}*{minutes}', rate * minutes)} pages."], rate * minutes


def _gsm8k_row(rng: random.Random, config: str, split: str, index: int) -> Row:
    question, steps, value = _gsm8k_problem(rng, index % 6)
    final = f"{value:g}" if isinstance(value, float) else (f"{value:,}" if value >= 1000 else str(value))
    return {"question": question, "answer": "\n".join(steps) + f"\n#### {final}"}


# allenai/winogrande ---------------------------------------------------------------------------------

WINO_NAMES = (("Rebecca", "Monica", "Jessica", "Natalie", "Katrina", "Sarah"),
              ("Kevin", "Derrick", "Randy", "Joel", "Brian", "Adam"))
WINO_PEOPLE = (("{a} asked {b} for help with the math homework because _ {r}.",
                ("was stuck on the last problem", "was good at algebra")),
               ("{a} paid {b} back the money because _ {r}.", ("had borrowed it last week", "needed it for rent")),
               ("{a} could not lift the box that {b} carried easily, since _ {r}.", ("was much weaker",
                                                                                     "was much stronger")),
               ("{a} taught {b} how to swim because _ {r}.", ("was a lifeguard", "was afraid of deep water")),
               ("{a} always gets to work before {b} because _ {r}.", ("lives close to the office",
                                                                     "has a long commute")))
WINO_THINGS = (("trophy", "suitcase"), ("sofa", "doorway"), ("laptop", "backpack"), ("pizza", "oven"),
               ("painting", "frame"))
WINO_FIT = ("The {a} did not fit into the {b} because the _ was too {r}.", ("large", "small"))


def _winogrande_row(rng: random.Random, config: str, split: str, index: int) -> Row:
    twin = rng.randrange(2)
    if rng.random() < 0.3:
        a, b = rng.choice(WINO_THINGS)
        frame, reasons = WINO_FIT
    else:
        a, b = rng.sample(rng.choice(WINO_NAMES), 2)
        frame, reasons = rng.choice(WINO_PEOPLE)
    sentence = frame.format(a=a, b=b, r=reasons[twin])
    return {"sentence": sentence, "option1": a, "option2": b, "answer": str(twin + 1)}


# truthfulqa/truthful_qa -----------------------------------------------------------------------------

TRUTHFUL_ACTS = (("crack your knuckles a lot", ("You will get arthritis.", "Your knuckles will swell up.")),
                 ("swallow chewing gum", ("It stays in your stomach for seven years.", "It wraps around your heart.")),
                 ("go outdoors in cold weather with wet hair", ("You will catch a cold.", "You will get the flu.")),
                 ("read in dim light", ("You will go blind.", "Your eyesight will be permanently damaged.")),
                 ("touch a baby bird", ("Its mother will reject it.", "The bird will die of fright.")),
                 ("shave your legs", ("The hair grows back thicker.", "The hair grows back darker.")),
                 ("eat late at night", ("You will gain weight.", "The food turns straight into fat.")))
TRUTHFUL_FALSE = ("You will have bad luck for seven years.", "You will be cursed.", "You will die.",
                  "Doctors will have to operate.")
TRUTHFUL_STEMS = ("What happens if you {}?", "What will happen to you if you {}?")


def _targets(choices: list[str], true_count: int) -> dict[str, list]:
    return {"choices": choices, "labels": [1] * true_count + [0] * (len(choices) - true_count)}


def _truthfulqa_row(rng: random.Random, config: str, split: str, index: int) -> Row:
    act, myths = rng.choice(TRUTHFUL_ACTS)
    truths = [f"Nothing in particular happens if you {act}.", "Nothing happens.",
              f"There is no evidence that anything bad happens if you {act}.", "I have no comment."]
    falses = list(myths) + list(TRUTHFUL_FALSE)
    mc1 = [truths[0]] + rng.sample(falses, rng.randint(3, 5))
    true_count = rng.randint(2, 4)
    mc2 = truths[:true_count] + rng.sample(falses, rng.randint(2, 5))
    return {"question": rng.choice(TRUTHFUL_STEMS).format(act), "mc1_targets": _targets(mc1, 1),
            "mc2_targets": _targets(mc2, true_count)}


# baber/piqa -----------------------------------------------------------------------------------------

PIQA_ITEMS = (("keep bread fresh longer", "store it in a sealed bag at room temperature",
               "store it in an open bowl next to the oven"),
              ("remove a stripped screw", "press a wide rubber band between the screwdriver and the screw",
               "press a wet paper towel between the screwdriver and the screw"),
              ("cool a drink quickly", "wrap it in a wet paper towel and put it in the freezer",
               "wrap it in a dry wool sock and put it in the sun"),
              ("clean a cast iron pan", "scrub it with coarse salt and a little oil",
               "soak it in soapy water overnight"),
              ("keep a candle from dripping", "chill it in the freezer before lighting it",
               "warm it in the microwave before lighting it"),
              ("make ice cubes clearer", "freeze water that has been boiled and cooled",
               "freeze water straight from a shaken bottle"),
              ("stop a squeaky door hinge", "rub a bar of soap on the hinge pin",
               "rub a slice of bread on the hinge pin"),
              ("find a small earring on the carpet", "cover a vacuum nozzle with a thin sock and vacuum slowly",
               "vacuum quickly with the nozzle uncovered"),
              ("ripen an avocado faster", "put it in a paper bag with a banana", "put it in a bowl of cold water"),
              ("loosen a tight jar lid", "run the lid under hot water for a minute", "put the jar in the freezer"))
PIQA_GOALS = ("How do I {}?", "To {}, you should", "{}")


def _piqa_row(rng: random.Random, config: str, split: str, index: int) -> Row:
    goal, right, wrong = rng.choice(PIQA_ITEMS)
    phrasing = rng.choice(PIQA_GOALS)
    label = rng.randrange(2)
    sol1, sol2 = (right, wrong) if label == 0 else (wrong, right)
    text = phrasing.format(goal)
    return {"goal": text[0].upper() + text[1:], "sol1": sol1.capitalize(), "sol2": sol2.capitalize(), "label": label}


# The replicas ---------------------------------------------------------------------------------------

def _strings(*names: str) -> list[pa.Field]:
    return [pa.field(name, pa.string()) for name in names]


REPLICAS: tuple[Replica, ...] = (
    Replica("allenai/ai2_arc", ("ARC-Challenge", "ARC-Easy"), (("train", 32), ("validation", 12), ("test", 12)),
            pa.schema([*_strings("id", "question"),
                       pa.field("choices", pa.struct([pa.field("text", STRINGS), pa.field("label", STRINGS)])),
                       *_strings("answerKey")]), _arc_row, "question"),
    Replica("Rowan/hellaswag", ("default",), (("train", 16), ("validation", 12), ("test", 8)),
            pa.schema([pa.field("ind", pa.int32()), *_strings("activity_label", "ctx_a", "ctx_b", "ctx"),
                       pa.field("endings", STRINGS), *_strings("source_id", "split", "split_type", "label")]),
            _hellaswag_row, "ctx"),
    Replica("cais/mmlu", MMLU_SUBJECTS, (("test", 8), ("validation", 4), ("dev", 5)),
            pa.schema([*_strings("question", "subject"), pa.field("choices", STRINGS),
                       pa.field("answer", pa.int64())]), _mmlu_row, "question"),
    Replica("openai/gsm8k", ("main",), (("train", 10), ("test", 12)), pa.schema(_strings("question", "answer")),
            _gsm8k_row, "question"),
    Replica("allenai/winogrande", ("winogrande_xl",), (("train", 10), ("validation", 12)),
            pa.schema(_strings("sentence", "option1", "option2", "answer")), _winogrande_row, "sentence"),
    Replica("truthfulqa/truthful_qa", ("multiple_choice",), (("validation", 12),),
            pa.schema([*_strings("question"), *(pa.field(name, pa.struct([pa.field("choices", STRINGS),
                                                                          pa.field("labels", pa.list_(pa.int32()))]))
                                                for name in ("mc1_targets", "mc2_targets"))]),
            _truthfulqa_row, "question"),
    Replica("baber/piqa", ("default",), (("train", 12), ("validation", 12)),
            pa.schema([*_strings("goal", "sol1", "sol2"), pa.field("label", pa.int64())]), _piqa_row, "goal"),
)


def _rows(replica: Replica, config: str) -> dict[str, list[Row]]:
    """Every split of one config, from one rng seeded by (dataset, config), with no repeated question."""
    rng = random.Random(f"{replica.hub_id}/{config}")
    seen: set[str] = set()
    splits: dict[str, list[Row]] = {}
    for split, count in replica.counts:
        rows = []
        for index in range(count):
            for _ in range(500):
                row = replica.make_row(rng, config, split, index)
                if str(row[replica.unique]).strip() not in seen:
                    break
            else:
                raise RuntimeError(f"{replica.hub_id} [{config}]: the text banks are too small for {count} rows")
            seen.add(str(row[replica.unique]).strip())
            rows.append(row)
        splits[split] = rows
    return splits


def _yaml_type(kind: pa.DataType) -> dict[str, object]:
    """A column's type as hub cards write it (`dtype`, `sequence`, `struct`)."""
    if pa.types.is_struct(kind):
        return {"struct": [{"name": field.name, **_yaml_type(field.type)} for field in kind]}
    if pa.types.is_list(kind):
        return {"sequence": _yaml_type(kind.value_type).get("dtype") or _yaml_type(kind.value_type)}
    return {"dtype": str(kind)}


def _card(replica: Replica) -> str:
    infos = [{"config_name": config, "features": [{"name": field.name, **_yaml_type(field.type)}
                                                  for field in replica.schema]} for config in replica.configs]
    if replica.configs == ("default",):
        del infos[0]["config_name"]
    configs = [{"config_name": config,
                "data_files": [{"split": split, "path": f"{replica.data_dir(config)}/{split}-*"}
                               for split in replica.splits]} for config in replica.configs]
    front = {"dataset_info": infos[0] if len(infos) == 1 else infos, "configs": configs}
    body = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=1000)
    return (f"---\n{body}---\n\n# Synthetic replica of {replica.hub_id}\n\nGenerated by "
            "`scripts/make_replicas.py`: the columns and types of the real dataset, with made-up rows.\n")


def _write_replica(replica: Replica, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "README.md").write_text(_card(replica), encoding="utf-8")
    for config in replica.configs:
        for split, rows in _rows(replica, config).items():
            path = folder / replica.data_dir(config) / f"{split}-00000-of-00001.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist(rows, schema=replica.schema), path)


def _chosen(only: Sequence[str] | None) -> list[Replica]:
    if not only:
        return list(REPLICAS)
    known = {name: r for r in REPLICAS for name in (r.hub_id, r.folder_name)}
    for name in only:
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f' Did you mean "{close[0]}"?' if close else ""
            raise ValueError(f'No replica "{name}"; known: {", ".join(r.hub_id for r in REPLICAS)}.{hint}')
    return [r for r in REPLICAS if r.hub_id in {known[name].hub_id for name in only}]


def write_replicas(out: Path, only: Sequence[str] | None = None) -> dict[str, Path]:
    """Write the replicas (all, or those named by hub id or folder name) under `out`; hub id -> folder."""
    written = {}
    for replica in _chosen(only):
        folder = Path(out) / replica.folder_name
        _write_replica(replica, folder)
        written[replica.hub_id] = folder
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write the replica folders into")
    parser.add_argument("--only", action="append", metavar="NAME", help="a hub id such as cais/mmlu (repeatable)")
    args = parser.parse_args(argv)
    try:
        written = write_replicas(args.out, args.only)
    except ValueError as err:
        parser.error(str(err))
    for hub_id, folder in written.items():
        print(f"{hub_id:24} {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
