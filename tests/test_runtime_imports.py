"""Every runtime module imports with only the runtime dependencies installed.

The test extra (playwright, pytest, transformers…) brings packages of its own, e.g.
greenlet through playwright, which once hid a runtime dependency nobody declared. This test
works out which distributions `pip install -e .` alone would bring (the closure of
`yunlian`'s requirements without extras), then imports every runtime module in a
subprocess where any other third-party top-level module is refused.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib import metadata

from packaging.requirements import Requirement

RUNTIME_PACKAGES = ("streamer", "avatars", "scripts_gen", "danmaku", "commerce", "web")
# needs alembic's migration context; exercised by the migration tests
NOT_IMPORTABLE_ALONE = {"commerce.migrations.env"}


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def runtime_closure(root: str = "yunlian") -> set[str]:
    """Distributions that installing `root` without extras pulls in, itself included."""
    seen: set[str] = set()
    todo: list[tuple[str, frozenset[str]]] = [(root, frozenset())]
    while todo:
        name, extras = todo.pop()
        key = (_norm(name), extras)
        if f"{key[0]}|{sorted(extras)}" in seen:
            continue
        seen.add(f"{key[0]}|{sorted(extras)}")
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional platform dependency not installed here
        for spec in dist.requires or ():
            req = Requirement(spec)
            envs = [{"extra": e} for e in extras] or [{"extra": ""}]
            if req.marker is not None and not any(req.marker.evaluate(env) for env in envs):
                continue
            todo.append((req.name, frozenset(req.extras)))
    return {s.split("|")[0] for s in seen}


def test_runtime_modules_import_without_test_only_packages():
    allowed = runtime_closure()
    assert "sqlalchemy" in allowed and "greenlet" in allowed
    owners = metadata.packages_distributions()  # top-level module -> distributions
    blocked = sorted(
        mod
        for mod, dists in owners.items()
        if not any(_norm(d) in allowed for d in dists) and mod not in RUNTIME_PACKAGES
    )
    assert "playwright" in blocked and "pytest" in blocked  # the guard guards something
    script = textwrap.dedent(
        """
        import importlib, importlib.abc, json, pkgutil, sys
        BLOCKED = set(json.loads(sys.argv[1]))
        SKIP = set(json.loads(sys.argv[2]))

        class Refuse(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ModuleNotFoundError(f"{name} is not a runtime dependency", name=name)
                return None

        sys.meta_path.insert(0, Refuse())
        failed = []
        for pkg in json.loads(sys.argv[3]):
            mod = importlib.import_module(pkg)
            for info in pkgutil.walk_packages(mod.__path__, pkg + "."):
                if info.name in SKIP:
                    continue
                try:
                    importlib.import_module(info.name)
                except Exception as exc:
                    failed.append(f"{info.name}: {exc!r}")
        print("\\n".join(failed))
        sys.exit(1 if failed else 0)
        """
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            json.dumps(blocked),
            json.dumps(sorted(NOT_IMPORTABLE_ALONE)),
            json.dumps(RUNTIME_PACKAGES),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, (
        f"runtime modules need undeclared packages:\n{proc.stdout}\n{proc.stderr}"
    )
