"""Traceability: Merkle proofs, signed checkpoints, and tamper detection that names the record."""

from __future__ import annotations

import argparse
import asyncio

import pytest
from sqlalchemy import text

from commerce.cli import register
from commerce.trace.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion
from tests.commerce.conftest import SECRET

ACT_AS_SHOP = True  # these tests run the shop: staff calls carry an admin token

BATCH = "fp-jujube-500g-20261008"


def test_merkle_proofs_match_rfc6962_reference():
    def mth(leaves):
        if len(leaves) == 1:
            return leaves[0]
        k = 1 << ((len(leaves) - 1).bit_length() - 1)
        return __import__("commerce.trace.merkle", fromlist=["x"]).node_hash(
            mth(leaves[:k]), mth(leaves[k:])
        )

    leaves = [leaf_hash(str(i).encode()) for i in range(37)]
    tree = MerkleTree(leaves)
    for n in range(1, 38):
        assert tree.root(n) == mth(leaves[:n])
        for i in range(n):
            assert verify_inclusion(leaves[i], i, n, tree.inclusion_proof(i, n), tree.root(n))
        for m in range(1, n + 1):
            assert verify_consistency(
                m, n, tree.root(m), tree.root(n), tree.consistency_proof(m, n)
            )
    assert not verify_inclusion(leaves[3], 4, 37, tree.inclusion_proof(3, 37), tree.root(37))


def run_cli(url: str, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="cmd", required=True))
    args = parser.parse_args(["trace", *argv, "--db", url, "--secret-key", SECRET])
    return args.func(args)


async def test_untouched_log_verifies_and_proves(store, http):
    report = await store.trace.verify()
    assert report.ok and report.events == 70 and report.checkpoints == 14
    r = await http.post(
        f"/api/shop/trace/batches/{BATCH}/events",
        json={"kind": "shipping", "details": {"carrier": "顺丰"}},
    )
    assert r.status_code == 201, r.text
    proof = r.json()
    assert verify_inclusion(
        bytes.fromhex(proof["leaf_hash"]),
        proof["leaf_index"],
        proof["tree_size"],
        [bytes.fromhex(p) for p in proof["proof"]],
        bytes.fromhex(proof["checkpoint"]["root_hash"]),
    )
    c = (
        await http.get("/api/shop/trace/proofs/consistency", params={"first": 10, "second": 71})
    ).json()
    assert verify_consistency(
        10,
        71,
        bytes.fromhex(c["first_root"]),
        bytes.fromhex(c["second_root"]),
        [bytes.fromhex(p) for p in c["proof"]],
    )
    bad = await http.post(f"/api/shop/trace/batches/{BATCH}/events", json={"kind": "teleport"})
    assert bad.status_code == 422
    page = await http.get(f"/trace/{BATCH}")
    assert (
        page.status_code == 200
        and "阜平大枣" in page.text
        and "采收" in page.text
        and "发货" in page.text
    )
    assert "证明有效" in page.text and "证明无效" not in page.text
    svg = await http.get(f"/trace/{BATCH}/qr.svg")
    png = await http.get(f"/trace/{BATCH}/qr.png")
    assert (
        svg.headers["content-type"] == "image/svg+xml" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    )
    assert (await http.get("/trace/no-such-batch")).status_code == 404
    await store.close()
    assert await asyncio.to_thread(run_cli, store.url, "verify") == 0


TAMPERING = {
    "edit_event": (
        "UPDATE trace_events SET payload = replace(payload, '腐熟农家肥', '化肥') WHERE idx = 1",
        "#1",
    ),
    "edit_harvest": (
        "UPDATE trace_events SET payload = replace(payload, '1号地块', '9号地块') WHERE idx = 2",
        "#2",
    ),
    "move_event": (
        "UPDATE trace_events SET batch_id = 'fp-walnut-500g-20260915' WHERE idx = 3",
        "#3",
    ),
    "remove_event": ("DELETE FROM trace_events WHERE idx = 7", "#7"),
    "remove_tail": ("DELETE FROM trace_events WHERE idx >= 68", "#68"),
    "edit_checkpoint": (
        "UPDATE trace_checkpoints SET tree_size = tree_size - 1 WHERE id = 4",
        "检查点 #4",
    ),
    "remove_checkpoint": ("DELETE FROM trace_checkpoints WHERE id = 5", "检查点 #5"),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
async def test_tampering_makes_verify_fail_and_name_the_record(store, case, capsys):
    sql, name = TAMPERING[case]
    async with store.db.write() as s:
        res = await s.execute(text(sql))
        assert res.rowcount >= 1
    report = await store.trace.verify()
    assert not report.ok
    assert any(name in p for p in report.problems), report.problems
    await store.close()
    assert await asyncio.to_thread(run_cli, store.url, "verify") == 1
    assert name in capsys.readouterr().out


async def test_leaf_hash_rewrite_is_caught_by_mac(store):
    from commerce.trace.merkle import leaf_hash as lh

    async with store.db.write() as s:
        payload = (
            await s.execute(text("SELECT payload FROM trace_events WHERE idx = 3"))
        ).scalar_one()
        forged = payload.replace("合格", "优秀")
        await s.execute(
            text("UPDATE trace_events SET payload = :p, leaf_hash = :h WHERE idx = 3"),
            {"p": forged, "h": lh(forged.encode())},
        )
    report = await store.trace.verify()
    assert any("#3" in p and "校验码" in p for p in report.problems), report.problems


def test_cli_reports_bad_database_without_traceback(capsys, tmp_path):
    code = run_cli("notadb://nowhere", "verify")
    assert code == 2 and "错误" in capsys.readouterr().err
