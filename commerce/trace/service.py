"""The trace log stored in the shop database: append, checkpoints, proofs, verification."""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from commerce.errors import InvalidInput, NotFound
from commerce.models import Batch, Product, Sku, TraceCheckpoint, TraceEvent, TraceHead
from commerce.trace.merkle import (
    MerkleTree,
    frontier_push,
    frontier_root,
    leaf_hash,
)

if TYPE_CHECKING:
    from commerce.catalog import BatchSpec
    from commerce.facts import ProductFacts
    from commerce.store import Store

KINDS = ("sowing", "fertilising", "harvest", "inspection", "packing", "shipping")
KIND_LABELS = {
    "sowing": "播种",
    "fertilising": "施肥",
    "harvest": "采收",
    "inspection": "检测",
    "packing": "包装",
    "shipping": "发货",
}
MAX_DETAILS_BYTES = 4096


def canonical(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def checkpoint_message(size: int, root: bytes, signed_at: datetime, key_id: str) -> bytes:
    """What a checkpoint signs, in the spirit of C2SP tlog checkpoints."""
    return (
        f"yunlian-trace/v1\n{size}\n{base64.b64encode(root).decode()}\n"
        f"{signed_at.isoformat()}\n{key_id}\n"
    ).encode()


def leaf_mac_input(idx: int, leaf: bytes) -> bytes:
    return struct.pack(">Q", idx) + leaf


@dataclass
class VerifyReport:
    """Outcome of `trace verify`: ok, plus one line per bad record naming it."""

    events: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class TraceService:
    """Appends trace events per batch and proves what was recorded."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._tree = MerkleTree()

    async def append(self, events: list[tuple[str, str, datetime, dict]]) -> list[int]:
        """Append (batch_id, kind, occurred_at, details) records and sign a new checkpoint."""
        for _batch_id, kind, _at, details in events:
            if kind not in KINDS:
                raise InvalidInput(f"未知的溯源环节：{kind}（可选：{'、'.join(KINDS)}）")
            if len(canonical(details)) > MAX_DETAILS_BYTES:
                raise InvalidInput("溯源记录内容过长")
        keys, now = self.store.keys, self.store.clock()
        async with self.store.db.write() as s:
            for batch_id, *_ in events:
                if await s.get(Batch, batch_id) is None:
                    raise NotFound(f"批次不存在：{batch_id}")
            head = (
                await s.execute(select(TraceHead).where(TraceHead.id == 1).with_for_update())
            ).scalar_one_or_none()
            if head is None:
                head = TraceHead(id=1, size=0, frontier=[])
                s.add(head)
            size, frontier = head.size, [bytes.fromhex(h) for h in head.frontier]
            out = []
            for batch_id, kind, at, details in events:
                record = {
                    "idx": size,
                    "batch_id": batch_id,
                    "kind": kind,
                    "occurred_at": at.isoformat(),
                    "recorded_at": now.isoformat(),
                    "details": details,
                }
                payload = canonical(record)
                leaf = leaf_hash(payload)
                s.add(
                    TraceEvent(
                        idx=size,
                        batch_id=batch_id,
                        kind=kind,
                        occurred_at=at,
                        payload=payload.decode(),
                        leaf_hash=leaf,
                        mac=keys.mac(keys.trace_mac, leaf_mac_input(size, leaf)),
                    )
                )
                frontier = frontier_push(frontier, size, leaf)
                out.append(size)
                size += 1
            head.size, head.frontier = size, [h.hex() for h in frontier]
            root = frontier_root(frontier)
            s.add(
                TraceCheckpoint(
                    tree_size=size,
                    root_hash=root,
                    signed_at=now,
                    key_id=keys.key_id,
                    signature=keys.sign(checkpoint_message(size, root, now, keys.key_id)),
                )
            )
        return out

    async def seed_batch(self, batch_id: str, facts: ProductFacts, spec: BatchSpec) -> None:
        """Plausible farm history for a demo batch, from sowing to packing."""
        h = datetime.combine(spec.harvest_date, datetime.min.time()) + timedelta(hours=8)
        report = spec.inspection_reports[0] if spec.inspection_reports else {"result": "合格"}
        await self.append(
            [
                (batch_id, "sowing", h - timedelta(days=150), {"plot": spec.origin_plot}),
                (batch_id, "fertilising", h - timedelta(days=90), {"input": "腐熟农家肥"}),
                (batch_id, "harvest", h, {"plot": spec.origin_plot, "units": spec.quantity}),
                (batch_id, "inspection", h + timedelta(days=2), dict(report)),
                (
                    batch_id,
                    "packing",
                    h + timedelta(days=3),
                    {"unit": facts.unit, "site": "阜平县分拣中心"},
                ),
            ]
        )

    async def latest_checkpoint(self) -> dict | None:
        async with self.store.db.read() as s:
            cp = (
                await s.execute(
                    select(TraceCheckpoint).order_by(TraceCheckpoint.id.desc()).limit(1)
                )
            ).scalar_one_or_none()
        return _checkpoint_json(cp, self.store.keys.public_raw) if cp else None

    async def _sync_tree(self, size: int) -> MerkleTree:
        if len(self._tree) < size:
            async with self.store.db.read() as s:
                rows = await s.execute(
                    select(TraceEvent.leaf_hash)
                    .where(TraceEvent.idx >= len(self._tree), TraceEvent.idx < size)
                    .order_by(TraceEvent.idx)
                )
                for (leaf,) in rows:
                    self._tree.append(bytes(leaf))
        return self._tree

    async def inclusion(self, idx: int, size: int | None = None) -> dict:
        cp = await self.latest_checkpoint()
        if cp is None:
            raise NotFound("溯源日志为空")
        size = size or cp["tree_size"]
        if not 0 <= idx < size <= cp["tree_size"]:
            raise InvalidInput("记录序号或树大小超出范围")
        tree = await self._sync_tree(size)
        proof = tree.inclusion_proof(idx, size)
        return {
            "leaf_index": idx,
            "tree_size": size,
            "leaf_hash": tree.levels[0][idx].hex(),
            "root_hash": tree.root(size).hex(),
            "proof": [p.hex() for p in proof],
            "checkpoint": cp,
        }

    async def consistency(self, first: int, second: int) -> dict:
        cp = await self.latest_checkpoint()
        if cp is None or not 0 < first <= second <= cp["tree_size"]:
            raise InvalidInput("树大小超出范围")
        tree = await self._sync_tree(second)
        return {
            "first": first,
            "second": second,
            "first_root": tree.root(first).hex(),
            "second_root": tree.root(second).hex(),
            "proof": [p.hex() for p in tree.consistency_proof(first, second)],
        }

    async def batch_view(self, batch_id: str) -> dict:
        """Everything the public trace page shows, with each event's inclusion proof."""
        async with self.store.db.read() as s:
            row = (
                await s.execute(
                    select(Batch, Sku, Product)
                    .join(Sku, Sku.id == Batch.sku_id)
                    .join(Product, Product.id == Sku.product_id)
                    .where(Batch.id == batch_id)
                )
            ).first()
            if row is None:
                raise NotFound(f"批次不存在：{batch_id}")
            batch, sku, product = row
            events = list(
                (
                    await s.execute(
                        select(TraceEvent)
                        .where(TraceEvent.batch_id == batch_id)
                        .order_by(TraceEvent.idx)
                    )
                ).scalars()
            )
        out_events = []
        for ev in events:
            proof = await self.inclusion(ev.idx)
            record = json.loads(ev.payload)
            out_events.append(
                {
                    "index": ev.idx,
                    "kind": ev.kind,
                    "label": KIND_LABELS.get(ev.kind, ev.kind),
                    "occurred_at": ev.occurred_at.isoformat(),
                    "details": record.get("details", {}),
                    "payload": ev.payload,
                    "inclusion": proof,
                }
            )
        return {
            "batch_id": batch.id,
            "sku": sku.code,
            "product": product.title,
            "origin_plot": batch.origin_plot,
            "harvest_date": _d(batch.harvest_date),
            "expiry_date": _d(batch.expiry_date),
            "certifications": list(batch.certifications),
            "inspection_reports": list(batch.inspection_reports),
            "events": out_events,
            "checkpoint": await self.latest_checkpoint(),
        }

    async def verify(self) -> VerifyReport:
        return await verify_log(self.store)


def _d(d: date) -> str:
    return d.isoformat()


def _checkpoint_json(cp: TraceCheckpoint, public_raw: bytes) -> dict:
    return {
        "id": cp.id,
        "tree_size": cp.tree_size,
        "root_hash": bytes(cp.root_hash).hex(),
        "signed_at": cp.signed_at.isoformat(),
        "key_id": cp.key_id,
        "signature": bytes(cp.signature).hex(),
        "public_key": public_raw.hex(),
        "algorithm": "Ed25519",
    }


async def verify_log(store: Store, chunk: int = 5000) -> VerifyReport:
    """Recompute every leaf and root; check MACs and checkpoint signatures; name bad records."""
    keys = store.keys
    report = VerifyReport()
    tree = MerkleTree()
    async with store.db.read() as s:
        expected = 0
        last = -1
        while True:
            rows = list(
                (
                    await s.execute(
                        select(TraceEvent)
                        .where(TraceEvent.idx > last)
                        .order_by(TraceEvent.idx)
                        .limit(chunk)
                    )
                ).scalars()
            )
            if not rows:
                break
            for ev in rows:
                last = ev.idx
                while expected < ev.idx:
                    report.problems.append(f"溯源记录 #{expected} 缺失（已被删除）")
                    tree.append(b"\x00" * 32)  # keep later indices aligned
                    expected += 1
                expected += 1
                report.events += 1
                tree.append(_check_event(ev, keys, report))
        cps = list(
            (await s.execute(select(TraceCheckpoint).order_by(TraceCheckpoint.id))).scalars()
        )
        head = await s.get(TraceHead, 1)
    n = len(tree)
    n_event_problems = len(report.problems)
    mismatched: list[TraceCheckpoint] = []
    prev_id = 0
    for cp in cps:
        report.checkpoints += 1
        if cp.id != prev_id + 1:
            report.problems.append(f"检查点 #{prev_id + 1} 至 #{cp.id - 1} 缺失（已被删除）")
        prev_id = cp.id
        msg = checkpoint_message(cp.tree_size, bytes(cp.root_hash), cp.signed_at, cp.key_id)
        if cp.key_id != keys.key_id or not keys.verify_signature(bytes(cp.signature), msg):
            report.problems.append(f"检查点 #{cp.id}（树大小 {cp.tree_size}）签名无效，内容被改动")
            continue
        if cp.tree_size > n:
            report.problems.append(
                f"溯源记录 #{n} 至 #{cp.tree_size - 1} 缺失：检查点 #{cp.id} 签名覆盖 {cp.tree_size} 条"
            )
        elif tree.root(cp.tree_size) != bytes(cp.root_hash):
            mismatched.append(cp)
    if mismatched:
        first, last = mismatched[0], mismatched[-1]
        span = f"#{first.id}" if first is last else f"#{first.id} 至 #{last.id}"
        cause = "（由上面被改动或删除的记录引起）" if n_event_problems else ""
        report.problems.append(f"检查点 {span} 的根哈希与记录不符，共 {len(mismatched)} 个{cause}")
    if head is not None and head.size != report.events:
        report.problems.append(f"日志头记录 {head.size} 条，实际 {report.events} 条")
    return report


def _check_event(ev: TraceEvent, keys, report: VerifyReport) -> bytes:
    name = f"溯源记录 #{ev.idx}（批次 {ev.batch_id}，{KIND_LABELS.get(ev.kind, ev.kind)}）"
    payload = ev.payload.encode()
    leaf = leaf_hash(payload)
    try:
        record = json.loads(payload)
    except ValueError:
        record = {}
    if (
        record.get("idx") != ev.idx
        or record.get("batch_id") != ev.batch_id
        or record.get("kind") != ev.kind
        or record.get("occurred_at") != ev.occurred_at.isoformat()
    ):
        report.problems.append(f"{name} 的字段与签名内容不一致，已被改动")
    elif leaf != bytes(ev.leaf_hash):
        report.problems.append(f"{name} 的内容已被改动（哈希不符）")
    elif keys.mac(keys.trace_mac, leaf_mac_input(ev.idx, leaf)) != bytes(ev.mac):
        report.problems.append(f"{name} 的哈希或校验码已被改动")
    return leaf


async def count_events(store: Store) -> int:
    async with store.db.read() as s:
        return (await s.execute(select(func.count(TraceEvent.idx)))).scalar_one()
