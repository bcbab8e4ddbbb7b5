"""Prompt templates: Jinja2 in a sandbox that bounds what a template can build, not only what it
can touch.

Why: Jinja's `ImmutableSandboxedEnvironment` (what transformers renders chat templates in) stops a
template from running code or mutating data, but not from building a huge value:
`{{ 'x' * 2000000000 }}`, `{{ 'x'.center(2000000000) }}`, a string doubled forty times in a loop,
or two nested `range(100000)` loops all passed it and hung scoregap (or took all memory) before
any message. Here every way a template makes a big value is checked *before* it is made —
repetition (`*`), concatenation (`+`, `~`), `%` and `str.format` widths, width-taking filters
and string methods (center, indent, zfill, ...), joins and replacements — and the rendered
output is counted as it streams. Past `RENDER_LIMIT` characters a render stops with `TooLarge`,
whose message states the limit; the prompt builder turns it into an `InputError` naming the key
and the doc. Loops over `range()` share a budget of `RANGE_LIMIT` steps per rendering, so a loop
that builds nothing cannot spin for hours either.

Plain templates (`{{ label }}. {{ text }}`, most of them) skip Jinja and are rendered by
substitution, with the same output and the same limit (`Template`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from functools import lru_cache, wraps
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.sandbox import MAX_RANGE, ImmutableSandboxedEnvironment

RENDER_LIMIT = 1_000_000
"""Characters one rendered template may produce, and the longest string or list it may build."""
RANGE_LIMIT = 1_000_000
"""Steps all `range()` loops of one rendering may take together."""
INT_BITS_LIMIT = 4 * RENDER_LIMIT
"""Bits an integer a template computes may have (`7 ** 2000000000` would run for minutes)."""

_PLACEHOLDER = re.compile(r"\{\{ *([A-Za-z_][A-Za-z0-9_]*) *\}\}")
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_BRACE_SPEC_NUMBER = re.compile(r"\d+")
_STEPS: ContextVar[list[int] | None] = ContextVar("scoregap_template_steps", default=None)


class TooLarge(Exception):
    """A template would build or produce more than the limits allow."""


def _too_large(what: str, size: int | None = None, unit: str = "characters") -> TooLarge:
    if size is None:
        return TooLarge(f"{what} would exceed {RENDER_LIMIT:,} characters, the most a template may "
                        f"produce or build")
    return TooLarge(f"{what} would reach {size:,} {unit}, more than the {RENDER_LIMIT:,} a template may "
                    f"produce or build")


def _unit(value: Any) -> str:
    return "characters" if isinstance(value, str) else "items"


def _length(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, list, tuple)) else None


def _checked(value: Any, what: str) -> Any:
    size = _length(value)
    if size is not None and size > RENDER_LIMIT:
        raise _too_large(what, size, _unit(value))
    return value


def _check_width(width: Any, what: str) -> None:
    if isinstance(width, int) and not isinstance(width, bool) and width > RENDER_LIMIT:
        raise _too_large(f"{what} with a width of {width:,}")


def _joined_length(items: Iterable[Any], separator: str = "") -> int:
    """The length of `separator.join(map(str, items))`, stopping as soon as it passes the limit."""
    total = 0
    for i, item in enumerate(items):
        total += len(item if isinstance(item, str) else str(item)) + (len(separator) if i else 0)
        if total > RENDER_LIMIT:
            return total
    return total


def _replaced_length(text: str, old: str, new: str) -> int:
    count = len(text) + 1 if old == "" else text.count(old)
    return len(text) + count * (len(new) - len(old))


def _check_percent(fmt: str, args: Any) -> None:
    """`fmt % args`: no width or precision past the limit, written or taken from `*`."""
    values = args if isinstance(args, tuple) else (args,)
    for match in _PERCENT_SPEC.finditer(fmt):
        for number in match.groups():
            if number and number != "*" and int(number) > RENDER_LIMIT:
                raise _too_large(f"the format {match.group(0)[:20]!r}")
    if "*" in fmt:
        for value in values:
            _check_width(value, "a %-format")


def _format_fields(fmt: str) -> list[tuple[str, str | None, str | None, str | None]]:
    from string import Formatter

    return list(Formatter().parse(fmt))


def _check_brace_format(fmt: str) -> None:
    """`fmt.format(...)`: no width or precision past the limit in a replacement field's spec."""
    for _, _, spec, _ in _format_fields(fmt):
        for number in _BRACE_SPEC_NUMBER.findall(spec or ""):
            if int(number) > RENDER_LIMIT:
                raise _too_large(f"the format spec {spec[:20]!r}")


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            size = _length(seq)
            if size is not None and isinstance(times, int) and size * times > RENDER_LIMIT:
                raise _too_large(f"repeating a {'string' if isinstance(seq, str) else 'list'}", size * times,
                                 _unit(seq))
        if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > INT_BITS_LIMIT:
            raise _too_large("multiplying integers this large")
    elif operator == "+":
        if _length(left) is not None and _length(right) is not None and len(left) + len(right) > RENDER_LIMIT:
            raise _too_large("adding two strings or lists", len(left) + len(right), _unit(left))
    elif operator == "%" and isinstance(left, str):
        _check_percent(left, right)
    elif operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1 \
            and left.bit_length() * right > INT_BITS_LIMIT:
        raise _too_large(f"the power {left} ** {right}")


def _check_str_method(method: Any, args: tuple[Any, ...]) -> None:
    """The string methods that can make a big string from small arguments."""
    owner, name = getattr(method, "__self__", None), getattr(method, "__name__", "")
    if not isinstance(owner, str):
        return
    if name in ("center", "ljust", "rjust", "zfill") and args:
        _check_width(args[0], f"str.{name}")
    elif name == "expandtabs":
        size = args[0] if args else 8
        if isinstance(size, int) and len(owner) + owner.count("\t") * size > RENDER_LIMIT:
            raise _too_large("str.expandtabs")
    elif name == "join" and args and _joined_length(args[0], owner) > RENDER_LIMIT:
        raise _too_large("str.join")
    elif name == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
        size = _replaced_length(owner, args[0], args[1])
        if size > RENDER_LIMIT:
            raise _too_large("str.replace", size)


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter checked before it runs (the arguments that size its output) and after."""

    @wraps(function)   # keeps Jinja's pass_context/pass_environment markers
    def bounded(*args: Any, **kwargs: Any) -> Any:
        values = [a for a in args if not isinstance(a, (jinja2.runtime.Context, jinja2.Environment, nodes.EvalContext))]
        first, rest = (values[0], values[1:]) if values else (None, [])
        if name in ("center", "indent", "batch", "slice", "tojson") and (rest or kwargs):
            width = rest[0] if rest else kwargs.get("width", kwargs.get("indent", kwargs.get("linecount",
                                                                                              kwargs.get("slices"))))
            if name == "indent" and isinstance(width, str):
                width = len(width)
            if name == "indent" and isinstance(first, str) and isinstance(width, int):
                width *= first.count("\n") + 1
            _check_width(width, f"the {name} filter")
        elif name == "join" and first is not None and not isinstance(first, str) and "attribute" not in kwargs:
            items = list(first)
            separator = rest[0] if rest and isinstance(rest[0], str) else kwargs.get("d", "")
            if _joined_length(items, separator if isinstance(separator, str) else "") > RENDER_LIMIT:
                raise _too_large("the join filter")
            args = tuple(items if a is first else a for a in args)
        elif name == "replace" and isinstance(first, str) and len(rest) >= 2:
            size = _replaced_length(first, str(rest[0]), str(rest[1]))
            if size > RENDER_LIMIT:
                raise _too_large("the replace filter", size)
        elif name == "format" and isinstance(first, str):
            _check_percent(first, tuple(rest) or kwargs)
        return _checked(function(*args, **kwargs), f"the {name} filter")

    return bounded


def _bounded_range(*args: int) -> range:
    """`range` as the sandbox has it, also counted against the rendering's step budget."""
    steps = range(*args)
    if len(steps) > MAX_RANGE:
        raise OverflowError(f"range() is limited to {MAX_RANGE:,} items in a template, not {len(steps):,}")
    budget = _STEPS.get()
    if budget is not None:
        budget[0] -= len(steps)
        if budget[0] < 0:
            raise TooLarge(f"its range() loops would take more than {RANGE_LIMIT:,} steps in one rendering "
                           f"(nested loops multiply)")
    return steps


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles `a ~ b` through the environment's bounded `concat` instead of `str_join`."""

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile or frame.eval_ctx.autoescape:
            return super().visit_Concat(node, frame)
        self.write("environment.concat(map(str, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write(")))")
        return None


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with every way to build a big value checked (see the module)."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "+", "%", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = _bounded_range
        self.globals.pop("lipsum", None)   # lorem ipsum of any length: never a prompt
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}

    @staticmethod
    def concat(parts: Iterable[str]) -> str:  # type: ignore[override]
        """Every rendering, block and `~` joins through here: counted while it streams."""
        out: list[str] = []
        total = 0
        for part in parts:
            total += len(part)
            if total > RENDER_LIMIT:
                raise _too_large("the rendered text", None)
            out.append(part)
        return "".join(out)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _check_binop(operator, left, right)
        return _checked(super().call_binop(context, operator, left, right), f"the {operator} operation")

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            _checked(value, "an argument")
        _check_str_method(obj, args)
        return _checked(super().call(context, obj, *args, **kwargs), "a call's result")

    def getattr(self, obj: Any, attribute: str) -> Any:
        return _checked(super().getattr(obj, attribute), f"the value of .{attribute}")

    def getitem(self, obj: Any, argument: Any) -> Any:
        return _checked(super().getitem(obj, argument), "an item")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = value.__self__
        _check_brace_format(fmt)
        if "{" not in "".join(spec or "" for _, _, spec, _ in _format_fields(fmt)):
            return wrapped

        def nested(*args: Any, **kwargs: Any) -> str:   # "{:{w}}": a width comes from the arguments
            for width in (*args, *kwargs.values()):
                _check_width(width, "a nested format width")
            return wrapped(*args, **kwargs)

        return nested


ENV = BoundedEnvironment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined)


@lru_cache(maxsize=1024)
def template(source: str) -> Template:
    """The compiled template of `source`, compiled once per process: a diagnosis builds a prompt
    builder per variant, and most variants keep most of your templates."""
    return Template(source)


class Template:
    """A prompt template. Most are plain text with `{{ name }}` placeholders ("{{ label }}.
    {{ text }}"): those render by substitution, which gives Jinja's output exactly (str() of each
    value) at a fraction of its cost — a diagnosis renders every choice of every doc under every
    variant. Anything else (filters, statements, whitespace control), and any value that is
    missing, goes through Jinja in its sandbox. Either way the output is at most RENDER_LIMIT
    characters (`TooLarge` past it)."""

    def __init__(self, source: str) -> None:
        self.jinja = ENV.from_string(source)
        parts = _PLACEHOLDER.split(source)
        literal = "".join(parts[0::2])
        self.parts: list[str] | None = None if any(t in literal for t in ("{{", "{%", "{#")) else parts

    def render(self, values: dict[str, Any]) -> str:
        if self.parts is not None:
            try:
                pieces = [part if i % 2 == 0 else str(values[part]) for i, part in enumerate(self.parts)]
            except KeyError:
                pass   # Jinja says which variable is undefined
            else:
                size = sum(map(len, pieces))
                if size > RENDER_LIMIT:
                    raise _too_large("the rendered text", size)
                return "".join(pieces)
        token = _STEPS.set([RANGE_LIMIT])
        try:
            return self.jinja.render(**values)
        finally:
            _STEPS.reset(token)
