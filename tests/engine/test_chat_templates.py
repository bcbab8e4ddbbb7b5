"""A chat template that fails is a clear input error (exit code 2), never a traceback.

Chat templates are code that ships with a model, and real ones refuse input on purpose
(`raise_exception('System role not supported')`); others have a syntax error, reach for an
undefined attribute, `{% include %}` a file (templates are rendered without a loader) or an
attribute the sandbox forbids. Each is tried from both places a model keeps its template,
`chat_template.jinja` and the "chat_template" key of `tokenizer_config.json`, through
`scoregap eval` as a user runs it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from scoregap.engine.errors import InputError
from scoregap.tui.cli import main

SYSTEM_REFUSED = ("{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
                  "{% endif %}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}</s>\n{% endfor %}"
                  "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")
TEMPLATES = {
    "raise_exception": (SYSTEM_REFUSED, "TemplateError: System role not supported"),
    "always_raises": ("{{ raise_exception('Conversation roles must alternate user/assistant') }}",
                      "Conversation roles must alternate"),
    "syntax_error": ("{% for m in messages %}{{ m['content'] }", "TemplateSyntaxError at line 1"),
    "undefined_attribute": ("{{ messages.nope.deeper }}", "UndefinedError"),
    "include": ("{% include 'other.jinja' %}", "cannot include other files"),
    "sandbox": ("{{ ''.__class__.__mro__ }}", "SecurityError"),
}
WHERE = {"jinja": "chat_template.jinja", "config": "tokenizer_config.json"}
CHAT_SETUP = 'extends = "samples/arith"\n[chat]\napply_template = true\nsystem_prompt = "Be brief."\n'


def with_template(tiny_model: Path, target: Path, template: str, where: str) -> Path:
    """A copy of the tiny model whose chat template is `template`, kept in `where`."""
    shutil.copytree(tiny_model, target)
    if where == "jinja":
        (target / "chat_template.jinja").write_text(template, encoding="utf-8")
        return target
    (target / "chat_template.jinja").unlink()
    config = json.loads((target / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["chat_template"] = template
    (target / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return target


def _eval(setup: Path, model: Path, tmp_path: Path) -> int:
    return main(["eval", str(setup), "--model", str(model), "--limit", "2", "--out", str(tmp_path / "out"),
                 "--cache-dir", str(tmp_path / "cache"), "--quiet"])


@pytest.mark.parametrize("where", list(WHERE))
@pytest.mark.parametrize("case", list(TEMPLATES))
def test_a_failing_template_exits_2_naming_its_file_and_the_model(
    tiny_model: Path, tmp_path: Path, write_setup, capsys: pytest.CaptureFixture[str], case: str, where: str
) -> None:
    template, needle = TEMPLATES[case]
    model = with_template(tiny_model, tmp_path / "model", template, where)
    code = _eval(write_setup(CHAT_SETUP), model, tmp_path)
    err = capsys.readouterr().err
    flat = " ".join(err.split())
    assert code == 2, err
    assert "Traceback" not in err
    assert err.startswith("scoregap: error:") and "\n\n" not in err.strip()
    assert str(model.resolve() / WHERE[where]) in flat
    assert f'model "{model}"' in flat
    assert needle in flat
    refuses_system = case == "raise_exception"
    assert ('chat.system_prompt = ""' in flat) == refuses_system
    assert ('chat.description_in = "user"' in flat) == refuses_system
    assert not (tmp_path / "out" / "results.json").exists()


@pytest.mark.parametrize("where", list(WHERE))
def test_the_suggested_setting_avoids_a_refused_system_message(
    tiny_model: Path, tmp_path: Path, write_setup, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    model = with_template(tiny_model, tmp_path / "model", SYSTEM_REFUSED, where)
    setup = write_setup('extends = "samples/arith"\n[chat]\napply_template = true\nsystem_prompt = ""\n'
                        'description_in = "user"\n')
    assert _eval(setup, model, tmp_path) == 0, capsys.readouterr().err


def test_a_template_error_raised_while_the_tokenizer_loads_names_the_file(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some transformers releases compile the template as the tokenizer loads."""
    from jinja2 import TemplateSyntaxError
    from transformers import AutoTokenizer

    from scoregap.engine.backends.transformers import TransformersBackend
    from scoregap.engine.model import resolve_model
    from scoregap.engine.setup import LoadingSpec

    model = with_template(tiny_model, tmp_path / "model", "{% for %}", "config")

    def compile_on_load(*args: object, **kwargs: object) -> None:
        raise TemplateSyntaxError("Expected an expression, got 'end of statement block'", lineno=1)

    monkeypatch.setattr(AutoTokenizer, "from_pretrained", compile_on_load)
    with pytest.raises(InputError) as info:
        TransformersBackend.load_tokenizer(resolve_model(str(model)), LoadingSpec())
    message = str(info.value)
    assert str(model.resolve() / "tokenizer_config.json") in message
    assert "TemplateSyntaxError at line 1" in message and f'model "{model}"' in message


def test_the_renderer_wraps_errors_of_any_tokenizer() -> None:
    """The renderer is backend-neutral: any tokenizer object whose template raises."""
    from scoregap.engine.tokenization import chat_renderer

    class Refusing:
        chat_template = "..."

        def apply_chat_template(self, messages: list[dict[str, str]], **kwargs: object) -> str:
            if messages[0]["role"] == "system":
                raise ValueError("System role not supported")
            return "ok"

    render = chat_renderer(Refusing(), "some/model", "")
    assert render is not None
    assert render([{"role": "user", "content": "hi"}]) == "ok"
    with pytest.raises(InputError, match='some/model.*chat.system_prompt = ""'):
        render([{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}])
