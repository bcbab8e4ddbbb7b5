"""Prompt rendering: every factor of the checklist's prompt, few-shot and template items.

A setup and a doc become a `Prompt`: the exact context string the model sees and, for multiple
choice, one continuation per choice. The assembly follows lm-evaluation-harness 0.4.x so that a
setup extending `lm-eval/base` scores as lm-eval does:

- the doc text is `prompt.template` rendered with the doc's fields, `question`, and `choices`
  (the formatted block of labelled choices); the target is the label, the text, or both;
- a few-shot example is `text + target_delimiter + target + fewshot_delimiter`;
- the description (and `chat.system_prompt` before it, joined by the few-shot delimiter) comes
  first; under a chat template it is the system message (or, with `description_in = "user"`,
  the start of the first user turn);
- under a chat template all shots and the question form one user turn, or one user/assistant
  pair per shot with `fewshot.multiturn`; the model's answer opens its own assistant turn, so no
  target delimiter is put before it;
- a multiple-choice continuation is `target_delimiter + target` (no delimiter under a chat
  template); where the context ends in whitespace the tokenizer moves it into the continuation
  (see `engine/tokenization.py`).

Templates are Jinja2 in an immutable sandbox, as transformers renders chat templates: a profile
can never run code, and cannot build more than 1,000,000 characters either (engine/sandbox.py).
A whole prompt is at most `CONTEXT_LIMIT` characters; either limit is an `InputError` naming the
key, the doc and its size, before any tokenizer sees the text.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jinja2

from scoregap.engine.errors import InputError
from scoregap.engine.sandbox import ENV as _ENV  # noqa: F401  (the tests compare against it)
from scoregap.engine.sandbox import RENDER_LIMIT, Template, TooLarge, template
from scoregap.engine.setup import Setup
from scoregap.engine.tasks import Doc, Task

ChatRenderer = Callable[[list[dict[str, str]]], str]

CONTEXT_LIMIT = 2 * RENDER_LIMIT
"""Characters a whole prompt (description, shots, the doc, the longest continuation) may have:
about half a million tokens, past any window this runs in. A longer one is surely a data error,
and tokenizing it alone would take minutes; whether a prompt fits the model's own window is the
backend's check, in tokens."""

ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


def choice_labels(style: str, n: int, where: str = "") -> list[str]:
    """The labels of `n` choices; `where` ("setup.toml: doc 3 (task.jsonl, line 4)") names the
    doc when a style cannot label that many."""
    if style == "none":
        return [""] * n
    if style == "A":
        return [chr(ord("A") + i) for i in range(n)]
    if style == "a":
        return [chr(ord("a") + i) for i in range(n)]
    if style == "1":
        return [str(i + 1) for i in range(n)]
    if style == "I":
        if n > len(ROMAN):
            at = f"{where}: " if where else ""
            raise InputError(f'{at}prompt.choice_labels = "I" (Roman numerals) labels up to {len(ROMAN)} '
                             f'choices, but this doc has {n} choices. Use "A", "a" or "1" for this task.')
        return list(ROMAN[:n])
    raise ValueError(style)


@dataclass(frozen=True)
class Message:
    role: str
    content: str
    delimiter: str = ""  # appended when the conversation is flattened to plain text


@dataclass(frozen=True)
class Prompt:
    doc_id: int
    context: str                       # exactly what precedes the continuation or generation
    continuations: tuple[str, ...]     # multiple choice: one per choice, delimiter included
    targets: tuple[str, ...]           # multiple choice: the target strings, no delimiter
    messages: tuple[Message, ...]      # the conversation before flattening, for display
    contexts: tuple[str, ...] = ()     # partial scoring: one context per choice (`context` is the gold's)

    def pair(self, i: int) -> tuple[str, str]:
        """The context and continuation scored for choice `i`."""
        return (self.contexts[i] if self.contexts else self.context), self.continuations[i]


class PromptBuilder:
    """Renders docs of one task under one setup. Templates are compiled once."""

    def __init__(self, setup: Setup, task: Task, chat: ChatRenderer | None = None) -> None:
        if setup.chat.apply_template and chat is None:
            raise InputError(
                f"{setup.source or 'The setup'}: chat.apply_template = true, but the model's "
                f"tokenizer has no chat template. Set chat.apply_template = false."
            )
        self.setup = setup
        self.task = task
        self.chat = chat
        self._pools = _pools(task)
        smallest, where = min((len(pool), name) for name, pool in self._pools.items())
        if setup.fewshot.k and setup.fewshot.k > smallest - (1 if task.fewshot_is_docs else 0):
            of = f" for subtask {where}" if task.fewshot_by_subtask else ""
            raise InputError(
                f"{setup.source or 'The setup'}: fewshot.k = {setup.fewshot.k}, but the task's "
                f"few-shot pool{of} ({task.source}) has only {smallest} docs."
            )
        self._stream: dict[int, list[Doc]] | None = None
        self._texts: dict[int, tuple[Doc, str]] = {}   # id(doc) -> (doc, text): a shot recurs in many prompts
        p = setup.prompt
        self._template = self._compile(p.template, "prompt.template")
        self._description = self._compile(p.description, "prompt.description")
        self._choice = self._compile(p.choice_format, "prompt.choice_format")

    def _compile(self, source: str, key: str) -> Template:
        try:
            return template(source)
        except jinja2.TemplateSyntaxError as err:
            raise InputError(
                f"{self.setup.source or 'The setup'}: {key} is not a valid Jinja2 template "
                f"({err.message}, template line {err.lineno})."
            ) from None

    def _render(self, template: Template, key: str, doc: Doc, **extra: Any) -> str:
        values = {"subtask": doc.subtask, **doc.data, "doc": doc.data, "question": doc.question, **extra}
        try:
            return template.render(values)
        except TooLarge as err:
            raise InputError(
                f"{self.setup.source or 'The setup'}: {key} failed to render for {self._doc(doc)}: {err}. "
                f"Shorten the template (or the doc)."
            ) from None
        except Exception as err:  # anything raised while rendering comes from the user's template
            raise InputError(
                f"{self.setup.source or 'The setup'}: {key} failed to render for {self._doc(doc)}: {err}. "
                f"Template variables: question, choices, choice_list, labels, doc, and the doc's fields "
                f"({', '.join(doc.data)})."
            ) from None

    def _doc(self, doc: Doc) -> str:
        """A doc, named for messages: its id and where it is written."""
        written = f" ({doc.source})" if doc.source else ""
        return f"doc {doc.doc_id} of {self.task.source}{written}"

    def _labels(self, doc: Doc) -> list[str]:
        where = f"{self.setup.source or 'The setup'}: {self._doc(doc)}"
        return choice_labels(self.setup.prompt.choice_labels, len(doc.choices), where)

    # -- pieces ------------------------------------------------------------------------------

    def targets(self, doc: Doc) -> tuple[str, ...]:
        """The strings scored as answers, one per choice (multiple choice) or the written answer."""
        if self.task.kind != "multiple_choice":
            return (doc.target,)
        p = self.setup.prompt
        labels = self._labels(doc)
        if p.target == "label":
            return tuple(labels)
        if p.target == "text":
            return doc.choices
        return tuple(self._format_choice(doc, label, text) for label, text in zip(labels, doc.choices))

    def _format_choice(self, doc: Doc, label: str, text: str) -> str:
        if not label:
            return text
        return self._render(self._choice, "prompt.choice_format", doc, label=label, text=text)

    def doc_text(self, doc: Doc) -> str:
        kept = self._texts.get(id(doc))
        if kept is not None and kept[0] is doc:
            return kept[1]
        p = self.setup.prompt
        labels = self._labels(doc)
        block = p.choice_separator.join(
            self._format_choice(doc, label, text) for label, text in zip(labels, doc.choices)
        )
        text = self._render(
            self._template, "prompt.template", doc,
            choices=block, choice_list=list(doc.choices), labels=labels,
        )
        self._texts[id(doc)] = (doc, text)
        return text

    def gold_target(self, doc: Doc) -> str:
        if self.task.kind == "multiple_choice" and not self.setup.scoring.partial:
            return self.targets(doc)[int(doc.gold[0])]
        return doc.target

    def shots(self, doc: Doc) -> list[Doc]:
        f = self.setup.fewshot
        if f.k == 0:
            return []
        whole = self._pools[doc.subtask if self.task.fewshot_by_subtask else ""]
        pool = [d for d in whole if not (self.task.fewshot_is_docs and d.doc_id == doc.doc_id)]
        if f.sampler == "first_n":
            chosen = pool[: f.k]
        elif f.sampler in ("stream", "stream_excluding"):
            chosen = list(self._streamed()[doc.doc_id])
        else:  # per-doc seed: the same doc gets the same shots whatever the limit or order
            chosen = random.Random(f.seed * 1_000_003 + doc.doc_id).sample(pool, f.k)
        if f.order == "reversed":
            chosen = chosen[::-1]
        elif f.order == "shuffled":
            random.Random(f.seed * 7_919 + doc.doc_id).shuffle(chosen)
        return chosen

    def _streamed(self) -> dict[int, list[Doc]]:
        """lm-eval's default sampler: one `Random(seed)` per task (per subtask), drawn doc after
        doc in order, so a doc's shots depend on the docs before it (never on a limit). When it
        is handed the eval doc to exclude, it draws k + 1, drops every row equal to the doc and
        keeps the first k: always when the pool is the eval split, and with "stream_excluding"
        whatever the pool (lm-eval 0.4.13 hands the doc over whenever the task's few-shot split
        and test split are both unset, as in HellaSwag, Winogrande and PIQA: a different draw)."""
        if self._stream is None:
            f, self._stream = self.setup.fewshot, {}
            streams: dict[str, random.Random] = {}
            for doc in self.task.docs:
                name = doc.subtask if self.task.fewshot_by_subtask else ""
                rnd = streams.setdefault(name, random.Random(f.seed))
                pool = list(self._pools[name])
                if not (self.task.fewshot_is_docs or f.sampler == "stream_excluding"):
                    self._stream[doc.doc_id] = rnd.sample(pool, f.k)
                    continue
                chosen = [d for d in rnd.sample(pool, f.k + 1) if d.data != doc.data][: f.k]
                if len(chosen) < f.k:   # the doc's duplicates were drawn too
                    chosen = rnd.sample([d for d in pool if d.data != doc.data], f.k)
                self._stream[doc.doc_id] = chosen
        return self._stream

    # -- assembly ----------------------------------------------------------------------------

    def _user_text(self, doc: Doc, shot: bool) -> str:
        """A doc as the user turn shows it; under partial scoring, the gold choice completing
        the doc (a shot) or the doc itself when it is drawn once per choice (see `render`)."""
        if not self.setup.scoring.partial:
            return self.doc_text(doc)
        return self._partial_text(doc, int(doc.gold[0])) if shot else ""

    def _partial_text(self, doc: Doc, i: int) -> str:
        return self._render(self._template, "prompt.template", doc, choice=doc.choices[i],
                            choices="", choice_list=list(doc.choices), labels=[])

    def messages(self, doc: Doc) -> list[Message]:
        p, c = self.setup.prompt, self.setup.chat
        description = self._render(self._description, "prompt.description", doc) if p.description else ""
        chat = c.apply_template
        if chat and c.description_in == "user":
            system, user_prefix = c.system_prompt, description
        else:
            system, user_prefix = _join(c.system_prompt, description, p.fewshot_delimiter), ""
        out: list[Message] = [Message("system", system)] if system else []
        for shot in self.shots(doc):
            out.append(Message("user", self._user_text(shot, shot=True), p.target_delimiter))
            out.append(Message("assistant", self.gold_target(shot), p.fewshot_delimiter))
        out.append(Message("user", self._user_text(doc, shot=False), ""))
        if user_prefix:
            first = next(i for i, m in enumerate(out) if m.role == "user")
            out[first] = Message("user", user_prefix + out[first].content, out[first].delimiter)
        return out

    def context(self, messages: list[Message]) -> str:
        if not self.setup.chat.apply_template:
            return "".join(m.content + m.delimiter for m in messages)
        assert self.chat is not None
        system = [m for m in messages if m.role == "system"]
        turns = [m for m in messages if m.role != "system"]
        if self.setup.fewshot.multiturn:
            conversation = [{"role": m.role, "content": m.content} for m in system + turns]
        else:  # everything after the system message becomes one user turn
            flat = "".join(m.content + m.delimiter for m in turns[:-1]) + turns[-1].content
            conversation = [{"role": m.role, "content": m.content} for m in system]
            conversation.append({"role": "user", "content": flat})
        return self.chat(conversation)

    def render(self, doc: Doc) -> Prompt:
        messages = self.messages(doc)
        if self.setup.scoring.partial and self.task.kind == "multiple_choice":
            return self._render_partial(doc, messages)
        context = self.context(messages)
        if self.task.kind != "multiple_choice":
            self._check_size(doc, len(context))
            return Prompt(doc.doc_id, context, (), (), tuple(messages))
        delimiter = "" if self.setup.chat.apply_template else self.setup.prompt.target_delimiter
        targets = self.targets(doc)
        continuations = tuple(delimiter + t for t in targets)
        self._check_size(doc, len(context) + max(map(len, continuations), default=0))
        return Prompt(doc.doc_id, context, continuations, targets, tuple(messages))

    def _render_partial(self, doc: Doc, messages: list[Message]) -> Prompt:
        """Partial scoring (lm-eval's multiple inputs, Winogrande): choice i completes the doc's
        own turn and ends context i; the rest of the doc (its target) is the one continuation
        every context is scored with."""
        prefix = messages[-1].content   # the description, when it opens the first user turn
        contexts = tuple(
            self.context(messages[:-1] + [Message("user", prefix + self._partial_text(doc, i), "")])
            for i in range(len(doc.choices))
        )
        delimiter = "" if self.setup.chat.apply_template else self.setup.prompt.target_delimiter
        continuations = (delimiter + doc.target,) * len(contexts)
        self._check_size(doc, max(map(len, contexts)) + len(continuations[0]))
        shown = tuple(messages[:-1]) + (Message("user", prefix + self._partial_text(doc, int(doc.gold[0]))),)
        return Prompt(doc.doc_id, contexts[int(doc.gold[0])], continuations, tuple(doc.choices), shown, contexts)

    def _check_size(self, doc: Doc, size: int) -> None:
        if size > CONTEXT_LIMIT:
            raise InputError(
                f"{self.setup.source or 'The setup'}: the prompt of {self._doc(doc)} is {size:,} characters "
                f"(description, {self.setup.fewshot.k} shots and the doc), more than the {CONTEXT_LIMIT:,} a "
                f"prompt may have. Such a prompt is a data error or a runaway template; lower fewshot.k "
                f"or shorten the docs."
            )


def _pools(task: Task) -> dict[str, tuple[Doc, ...]]:
    """The few-shot pool of each subtask ("" when the whole pool serves every doc)."""
    if not task.fewshot_by_subtask:
        return {"": task.fewshot}
    pools: dict[str, list[Doc]] = {name: [] for name in task.subtasks}
    for d in task.fewshot:
        pools.setdefault(d.subtask, []).append(d)
    return {name: tuple(docs) for name, docs in pools.items()}


def _join(prefix: str, suffix: str, delimiter: str) -> str:
    """lm-eval's maybe_delimit: add the delimiter only if neither side has whitespace at the seam."""
    if not prefix:
        return suffix
    if not suffix:
        return prefix
    if prefix[-1].isspace() or suffix[0].isspace():
        return prefix + suffix
    return prefix + delimiter + suffix


def probe_chat(conversation: list[dict[str, str]]) -> str:
    """A stand-in chat template that shows every role and content: enough to tell whether a setup
    renders at all, and whether two setups render the same input, without the model's tokenizer."""
    turns = "".join(f"<|{m['role']}|>{m['content']}<|end|>" for m in conversation)
    return turns + "<|assistant|>"
