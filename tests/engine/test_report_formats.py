"""How the report states its numbers: never a closes above 200% as a percentage, never p = 0, a
screened score with its n, causes apart from significant effects that are not causes."""

from __future__ import annotations

from scoregap.engine.report_formats import closes_text, numbering, p_text, score_text


def test_closes_reads_as_words_where_a_percentage_would_mislead() -> None:
    assert closes_text({"closes": 0.94}) == "94%"
    assert closes_text({"closes": 1.0, "round": 2}) == "100% of the rest"
    assert closes_text({"closes": 56.0}) == "overshoots"            # was printed "5600%"
    assert closes_text({"closes": -0.3}) == "widens"
    assert closes_text({"closes": None}) == "—"


def test_p_values_are_never_printed_as_zero() -> None:
    assert p_text(0.0) == "< 0.001" and p_text(2e-25) == "< 0.001" and p_text(0.0123) == "0.012"


def test_a_screened_score_carries_its_n() -> None:
    assert score_text({"score": 0.567, "n": 60}, 240) == "56.7 (n=60)"
    assert score_text({"score": 0.646, "n": 240}, 240) == "64.6"


def test_equivalent_causes_share_a_number() -> None:
    rows = [{"group": None}, {"group": 1}, {"group": 1}, {"group": None}, {"group": 2}, {"group": 2}]
    assert numbering(rows) == ["1", "2a", "2b", "3", "4a", "4b"]


def test_the_lm_eval_command_names_its_folder_and_breaks_only_between_arguments() -> None:
    import shlex

    from scoregap.engine.lmeval_export import shell_lines, with_include_path

    folder = "/home/someone/a folder/scoregap-report/a-session-with-a-long-name/lm-eval-task"
    command = with_include_path("lm-eval run --model hf --model_args pretrained=/models/m,dtype=float32 --tasks t "
                                "--include_path TASK_DIR --num_fewshot 5 --batch_size 8 --apply_chat_template "
                                "--system_instruction 'Be brief.' --limit 40", folder)
    assert shlex.split(command)[shlex.split(command).index("--include_path") + 1] == folder
    laid = shell_lines(command, 60)
    assert shlex.split(laid.replace("\\\n", " ")) == shlex.split(command)   # it still runs, unchanged
    lines = laid.splitlines()
    assert all(len(line) <= 60 or line.strip(" \\") == shlex.quote(folder) for line in lines)
    assert "    --num_fewshot 5 --batch_size 8 --apply_chat_template \\" in lines


def test_lm_evals_own_sampler_exports_as_its_default_with_the_seed_and_a_per_doc_draw_is_said():
    """Found walking an import: a setup rebuilt from an lm-eval run (sampler "stream", lm-eval's
    default) came back in the report as "lm-eval cannot express: fewshot.sampler = random"."""
    from scoregap.engine.lmeval_export import export
    from scoregap.engine.presets import load_setup
    from scoregap.engine.tasks import load_task

    base = load_setup("samples/arith")
    task = load_task(base.task, setup_source=base.source)
    stream = export(base.with_values({"fewshot.k": 3, "fewshot.sampler": "stream"}), task, model="m")
    assert stream.unsupported == () and stream.config["fewshot_config"] == {"sampler": "default"}
    assert "--seed" not in stream.command()                         # lm-eval's default few-shot seed
    seeded = export(base.with_values({"fewshot.k": 3, "fewshot.sampler": "stream", "fewshot.seed": 42}), task, model="m")
    assert "--seed 0,1234,1234,42" in seeded.command()
    per_doc = export(base.with_values({"fewshot.k": 3, "fewshot.sampler": "random"}), task, model="m")
    assert per_doc.unsupported[0].startswith("fewshot.sampler = random")
    first = export(base.with_values({"fewshot.k": 3}), task, model="m")
    assert first.unsupported == () and first.config["fewshot_config"] == {"sampler": "first_n"}
