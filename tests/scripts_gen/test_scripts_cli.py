"""The `script demo` and `ask` subcommands, as the lead wires them into `yunlian`.

They read the shop's products from a real SQLite database, like `yunlian shop products`.
"""

import argparse
import asyncio
import sqlite3

import pytest

from commerce import open_store
from scripts_gen.cli import register

SECRET = "test-secret-key"


def run(argv, capsys):
    parser = argparse.ArgumentParser(prog="yunlian")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code = args.func(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def make_shop(path):
    """A demo shop in a SQLite file, with the jujube price changed to 31.50 behind its back."""

    async def seed():
        store = await open_store(f"sqlite:///{path}", secret_key=SECRET, background=False)
        await store.close()

    asyncio.run(seed())
    with sqlite3.connect(path) as db:
        db.execute("UPDATE skus SET price_fen = 3150 WHERE code = 'fp-jujube-500g'")
    return path


@pytest.fixture(scope="module")
def shop_db(tmp_path_factory):
    return f"sqlite:///{make_shop(tmp_path_factory.mktemp('shop') / 'shop.db')}"


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("YUNLIAN_SECRET_KEY", SECRET)


def test_script_demo_prints_a_segment(capsys, shop_db):
    argv = ["script", "demo", "--product", "大枣", "--persona", "xiaowang", "--db", shop_db]
    code, out, _ = run(argv, capsys)
    assert code == 0
    assert 6 <= len(out.strip().splitlines()) <= 12 and "大枣" in out


def test_script_demo_says_the_price_the_database_holds(capsys, shop_db):
    said = ""
    for _ in range(3):  # the price line is always in the plan; personas word it apart
        code, out, _ = run(["script", "demo", "--product", "大枣", "--db", shop_db], capsys)
        assert code == 0
        said += out
    assert "三十一块五" in said and "二十九块九" not in said


def test_ask_answers_the_price_from_the_database_not_the_demo_catalog(capsys, shop_db):
    code, out, err = run(["ask", "大枣多少钱", "--db", shop_db], capsys)
    assert code == 0 and "三十一块五" in out and "catalog:fp-jujube-500g" in err


def test_ask_prints_an_answer_with_its_source(capsys, shop_db):
    code, out, err = run(["ask", "核桃要泡水吗", "--db", shop_db], capsys)
    assert code == 0 and "直接吃" in out and "kb-walnut-soak" in err


def test_ask_a_safety_question_gets_the_reviewed_answer(capsys, shop_db):
    code, out, err = run(["ask", "蜂蜜能给一岁宝宝吃吗", "--db", shop_db], capsys)
    assert code == 0 and "不能吃蜂蜜" in out and "kb-honey-kids" in err
    assert "可以吃" not in out


def test_the_default_store_is_the_one_yunlian_serve_uses(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["ask", "大枣多少钱"], capsys)
    assert code == 2 and "找不到数据库" in err and "var/yunlian.db" in err
    assert not (tmp_path / "var" / "yunlian.db").exists()  # refused, not created
    (tmp_path / "var").mkdir()
    make_shop(tmp_path / "var" / "yunlian.db")
    code, out, _ = run(["ask", "大枣多少钱"], capsys)
    assert code == 0 and "三十一块五" in out


def test_a_missing_sqlite_file_is_refused_with_a_clear_message(capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'nope.db'}"
    for argv in (
        ["ask", "大枣多少钱", "--db", url],
        ["script", "demo", "--product", "大枣", "--db", url],
    ):
        code, _, err = run(argv, capsys)
        assert code == 2 and "找不到数据库" in err and "Traceback" not in err
    assert not (tmp_path / "nope.db").exists()


def test_a_malformed_database_url_is_a_clear_message(capsys):
    code, _, err = run(["ask", "大枣多少钱", "--db", "not a url ::"], capsys)
    assert code == 2 and "数据库 URL 不正确" in err and "Traceback" not in err


def test_a_file_that_is_not_a_database_is_a_clear_message(capsys, tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    code, _, err = run(["ask", "大枣多少钱", "--db", f"sqlite:///{junk}"], capsys)
    assert code == 2 and "读取商品失败" in err and "Traceback" not in err


def test_unknown_product_is_a_clear_message_not_a_traceback(capsys, shop_db):
    argv = ["script", "demo", "--product", "榴莲", "--persona", "xiaoli", "--db", shop_db]
    code, _, err = run(argv, capsys)
    assert code == 2 and "没有这个商品" in err and "Traceback" not in err


def test_empty_question_is_a_clear_message(capsys):
    code, _, err = run(["ask", "   "], capsys)
    assert code == 2 and "问题是空的" in err


def test_transformers_backend_without_model_dir_is_a_clear_message(capsys, shop_db):
    argv = ["script", "demo", "--product", "大枣", "--backend", "transformers", "--db", shop_db]
    code, _, err = run(argv, capsys)
    assert code == 2 and "--model-dir" in err


def test_unknown_persona_is_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        run(["ask", "核桃", "--persona", "xiaobai"], capsys)
    assert exc.value.code == 2
