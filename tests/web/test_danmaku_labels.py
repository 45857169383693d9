"""Operators correct how a comment was understood: API, bad input, persistence across a
restart, export, and the corrections reaching the training set."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi import FastAPI

from commerce import open_store
from danmaku import cli as danmaku_cli
from danmaku.analysis import build
from danmaku.analysis.text import clean
from tests.web.loopback import served
from web.tickets_api import build_router


@pytest.fixture
async def db_url(tmp_path):
    return f"sqlite:///{tmp_path}/shop.db"


@pytest.fixture
async def store(db_url):
    s = await open_store(db_url, seed_demo=False, background=False)
    yield s
    await s.close()


@pytest.fixture
async def http(store):
    """The router served by a real uvicorn on loopback, and a client for it."""
    app = FastAPI()
    app.include_router(build_router(store))
    async with served(app) as client:
        yield client


async def test_a_correction_is_stored_and_the_newest_wins(http, store):
    t = await store.tickets.open("r1", "u1", "小张", "question", "介枣嘛价 忒贵了吧")
    r = await http.post(
        f"/api/danmaku/{t.id}/label", json={"sentiment": "neg", "intent": "complaint"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["intent"] == "complaint" and r.json()["text"] == "介枣嘛价 忒贵了吧"
    r = await http.post(f"/api/danmaku/{t.id}/label", json={"intent": "question"})
    assert r.status_code == 200 and r.json()["sentiment"] == "neg"
    assert [(x["sentiment"], x["intent"]) for x in await store.danmaku_labels.export()] == [
        ("neg", "question")
    ]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/danmaku/cs-000000000000/label", {"sentiment": "neg", "intent": "other"}, 404),
        ("/api/danmaku/not-an-id/label", {"sentiment": "neg", "intent": "other"}, 404),
        (None, {"sentiment": "angry", "intent": "other"}, 422),
        (None, {"sentiment": "neg", "intent": "rant"}, 422),
        (None, {}, 422),
        (None, {"sentiment": "neg"}, 422),  # the first correction needs both
        (None, {"sentiment": "neg", "intent": "other", "extra": 1}, 422),
        (None, {"sentiment": 3, "intent": "other"}, 422),
    ],
)
async def test_bad_input_is_refused_with_a_reason(http, store, path, body, status):
    t = await store.tickets.open("r1", "u1", "小张", "complaint", "枣子坏了")
    r = await http.post(path or f"/api/danmaku/{t.id}/label", json=body)
    assert r.status_code == status, r.text
    assert r.json()["detail"]
    assert await store.danmaku_labels.export() == []


async def test_an_oversized_body_is_refused(http, store):
    t = await store.tickets.open("r1", "u1", "小张", "complaint", "枣子坏了")
    r = await http.post(
        f"/api/danmaku/{t.id}/label",
        content=b'{"sentiment":"neg","intent":"other","x":"' + b"a" * 2_000_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert 400 <= r.status_code < 500


async def test_a_correction_survives_a_restart_and_is_used_by_train(db_url, tmp_path, capsys):
    s = await open_store(db_url, seed_demo=False, background=False)
    t = await s.tickets.open("r1", "u1", "老乡", "question", "俺要两袋 给娃买的")
    await s.danmaku_labels.correct(t.id, "pos", "purchase", "运营小李")
    await s.close()

    out = tmp_path / "labels.jsonl"
    args = ["export-labels", "--db", db_url, "--out", str(out)]
    code = await asyncio.to_thread(_cli, args)
    assert code == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["text"], r["sentiment"], r["intent"], r["by"]) for r in rows] == [
        ("俺要两袋 给娃买的", "pos", "purchase", "运营小李")
    ]
    training = build.training_set(rows)
    mine = [e for e in training if clean(e.text) == clean("俺要两袋 给娃买的")]
    assert [(e.sentiment, e.intent) for e in mine] == [("pos", "purchase")]
    assert len(training) == len(build.training_set()) + 1


def _cli(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="yunlian")
    danmaku_cli.register(parser.add_subparsers())
    args = parser.parse_args(["danmaku", *argv])
    return args.func(args)
