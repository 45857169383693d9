"""Suite-wide fixtures, and the guards that keep one test's leftovers out of the next.

Every test has a time limit (pyproject's `timeout`; on expiry pytest-timeout prints every
thread's stack and ends the run). On top of that, each test module must leave nothing
behind: no thread it started may outlive it, and no asyncio task an async test started
may still be pending when the test ends. A module that leaks fails, naming what leaked and
where it was waiting, because a leftover is what turned one earlier run into a 16-minute
hang in a later test.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import threading
import time
import traceback

import pytest
import pytest_asyncio

from testkit.livesrv import LiveServer

THREAD_GRACE = 10.0  # seconds a module's threads get to finish after its last test
TASK_GRACE = 2.0  # seconds an async test's leftover tasks get to finish after it
EXECUTOR_GRACE = 15.0  # seconds the loop's default executor gets to finish at loop close
TIMER_THREAD = "pytest_timeout "  # pytest-timeout's own timer for the running test
_stray_tasks: dict[str, list[str]] = {}  # module nodeid -> what its tests left pending


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """The whole app on a real port with the demo room live (frame stamps on)."""
    with LiveServer(tmp_path_factory.mktemp("live") / "yunlian.db") as srv:
        yield srv


# --- a bounded loop close ------------------------------------------------------------------


class BoundedLoop(asyncio.SelectorEventLoop):
    """The test loop. Python 3.11 joins the default executor's threads at loop close with
    no limit, so one thread stuck in a blocking call hangs the suite with an idle loop.
    Here the join is bounded and a stuck thread fails the test with its stack."""

    async def shutdown_default_executor(self) -> None:  # noqa: D102
        executor = self._default_executor
        if executor is None:
            return
        workers = list(getattr(executor, "_threads", ()))
        task = asyncio.ensure_future(super().shutdown_default_executor())
        done, _ = await asyncio.wait({task}, timeout=EXECUTOR_GRACE)
        if not done:
            stuck = [t for t in workers if t.is_alive()]
            raise RuntimeError(
                f"the event loop's default executor did not finish within {EXECUTOR_GRACE:g} s:\n"
                + "\n".join(thread_stack(t) for t in stuck)
            )


def pytest_asyncio_loop_factories(config, item):
    """Every async test and fixture runs on a BoundedLoop."""
    return {"bounded": BoundedLoop}


# --- leftovers ---------------------------------------------------------------------------


def thread_stack(t: threading.Thread) -> str:
    frame = sys._current_frames().get(t.ident or -1)
    where = "".join(traceback.format_stack(frame, limit=8)) if frame else "  (no frame)\n"
    return f"thread {t.name!r} (daemon={t.daemon}):\n{where}"


def task_stack(t: asyncio.Task) -> str:
    frames = t.get_stack(limit=6)
    where = (
        "".join(traceback.format_list(traceback.extract_stack(frames[-1]))[-6:]) if frames else ""
    )
    return f"task {t.get_name()!r}: {t.get_coro()!r}\n{where}"


def _module_id(request: pytest.FixtureRequest) -> str:
    return request.node.nodeid.split("::")[0]


@pytest.fixture(autouse=True, scope="module")
def _module_leaves_nothing_behind(request):
    """Fail the module if a thread it started, or a task one of its async tests started,
    is still there after it."""
    before = set(threading.enumerate())
    module = _module_id(request)
    yield
    deadline = time.monotonic() + THREAD_GRACE
    while True:
        extra = [
            t
            for t in threading.enumerate()
            if t not in before and t.is_alive() and not t.name.startswith(TIMER_THREAD)
        ]
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    problems = [f"{len(extra)} thread(s) still running:"] + [thread_stack(t) for t in extra]
    tasks = _stray_tasks.pop(module, [])
    if tasks:
        problems += [f"{len(tasks)} asyncio task(s) left pending by its tests:"] + tasks
    if extra or tasks:
        pytest.fail(f"{module} left work behind\n" + "\n".join(problems), pytrace=False)


@pytest.fixture(autouse=True)
def _async_test_leaves_no_tasks(request):
    if inspect.iscoroutinefunction(getattr(request.node, "obj", None)):
        request.getfixturevalue("_task_watch")
    yield


@pytest_asyncio.fixture
async def _task_watch(request):
    """Set up before an async test's own fixtures, so it checks after they are torn down."""
    yield
    me = asyncio.current_task()
    deadline = time.monotonic() + TASK_GRACE
    while True:
        pending = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
        if not pending or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.02)
    if pending:
        _stray_tasks.setdefault(_module_id(request), []).extend(
            f"{request.node.name}: {task_stack(t)}" for t in pending
        )
        for t in pending:
            t.cancel()
        await asyncio.wait(pending, timeout=TASK_GRACE)
