import pytest

from tests.livesrv import LiveServer


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """The whole app on a real port with the demo room live (frame stamps on)."""
    with LiveServer(tmp_path_factory.mktemp("live") / "yunlian.db") as srv:
        yield srv
