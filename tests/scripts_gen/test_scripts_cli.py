"""The `script demo` and `ask` subcommands, as the lead wires them into `yunlian`."""

import argparse

import pytest

from scripts_gen.cli import register


def run(argv, capsys):
    parser = argparse.ArgumentParser(prog="yunlian")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code = args.func(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_script_demo_prints_a_segment(capsys):
    code, out, _ = run(["script", "demo", "--product", "大枣", "--persona", "xiaowang"], capsys)
    assert code == 0
    assert 6 <= len(out.strip().splitlines()) <= 12 and "大枣" in out


def test_ask_prints_an_answer_with_its_source(capsys):
    code, out, err = run(["ask", "核桃是薄皮的吗"], capsys)
    assert code == 0 and "薄皮" in out and "kb-walnut-skin" in err


def test_unknown_product_is_a_clear_message_not_a_traceback(capsys):
    code, _, err = run(["script", "demo", "--product", "榴莲", "--persona", "xiaoli"], capsys)
    assert code == 2 and "没有这个商品" in err and "Traceback" not in err


def test_empty_question_is_a_clear_message(capsys):
    code, _, err = run(["ask", "   "], capsys)
    assert code == 2 and "问题是空的" in err


def test_transformers_backend_without_model_dir_is_a_clear_message(capsys):
    argv = ["script", "demo", "--product", "大枣", "--backend", "transformers"]
    code, _, err = run(argv, capsys)
    assert code == 2 and "--model-dir" in err


def test_unknown_persona_is_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        run(["ask", "核桃", "--persona", "xiaobai"], capsys)
    assert exc.value.code == 2
