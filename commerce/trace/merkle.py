"""RFC 6962 / RFC 9162 Merkle tree: hashing, an incremental tree, inclusion and consistency proofs."""

from __future__ import annotations

import hashlib

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def frontier_push(frontier: list[bytes], size: int, leaf: bytes) -> list[bytes]:
    """Append a leaf to the compact range (perfect subtree roots, largest first)."""
    frontier = frontier + [leaf]
    s = size
    while s & 1:
        right = frontier.pop()
        left = frontier.pop()
        frontier.append(node_hash(left, right))
        s >>= 1
    return frontier


def frontier_root(frontier: list[bytes]) -> bytes:
    """MTH of the whole log from its compact range: fold right to left."""
    if not frontier:
        return EMPTY_ROOT
    acc = frontier[-1]
    for h in reversed(frontier[:-1]):
        acc = node_hash(h, acc)
    return acc


class MerkleTree:
    """In-memory tree over leaf hashes that keeps every complete, aligned subtree root.

    levels[k][i] is the root of leaves [i*2^k, (i+1)*2^k), so any MTH(D[a:b]) needed for a
    proof is O(log n) lookups and hashes.
    """

    def __init__(self, leaves: list[bytes] | None = None) -> None:
        self.levels: list[list[bytes]] = [[]]
        for h in leaves or ():
            self.append(h)

    def __len__(self) -> int:
        return len(self.levels[0])

    def append(self, leaf: bytes) -> None:
        self.levels[0].append(leaf)
        k = 0
        while len(self.levels[k]) % 2 == 0:
            lvl = self.levels[k]
            parent = node_hash(lvl[-2], lvl[-1])
            if len(self.levels) == k + 1:
                self.levels.append([])
            self.levels[k + 1].append(parent)
            k += 1

    def _mth(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and start % n == 0:
            return self.levels[n.bit_length() - 1][start // n]
        k = _split(n)
        return node_hash(self._mth(start, start + k), self._mth(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        return self._mth(0, len(self) if size is None else size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(m, D[0:n]) from RFC 6962 section 2.1.1."""
        if not 0 <= index < size <= len(self):
            raise ValueError("index or tree size out of range")
        path: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                path.append(self._mth(start + k, end))
                end = start + k
            else:
                path.append(self._mth(start, start + k))
                start += k
        return list(reversed(path))

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """PROOF(m, D[0:n]) from RFC 6962 section 2.1.2."""
        if not 0 < first <= second <= len(self):
            raise ValueError("tree sizes out of range")
        return self._subproof(first, 0, second, True)

    def _subproof(self, m: int, start: int, end: int, b: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if b else [self._mth(start, end)]
        k = _split(n)
        if m <= k:
            return self._subproof(m, start, start + k, b) + [self._mth(start + k, end)]
        return self._subproof(m - k, start + k, end, False) + [self._mth(start, start + k)]


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if first == second:
        return not proof and first_root == second_root
    if first == 0 or first > second or not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # first is a power of two: its root is the first node
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root
