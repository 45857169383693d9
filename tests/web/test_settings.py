"""web/settings.py as a pydantic-settings model: environment over the config file over the
defaults; every value validated, errors naming the key; `yunlian config check FILE`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from web.settings import ConfigError, Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(monkeypatch):
    for key in list(os.environ):
        if key.startswith("YUNLIAN_"):
            monkeypatch.delenv(key)
    return monkeypatch


def test_keyword_arguments_and_defaults_read_no_environment(env):
    env.setenv("YUNLIAN_MAX_ROOMS", "2")
    s = Settings(db_url="sqlite:///x.db", demo_room=False)
    assert (s.db_url, s.max_rooms, s.demo_payments) == ("sqlite:///x.db", 8, False)
    assert Settings().demo_payments is True  # None follows the demo room, as before


def test_environment_over_the_file_over_the_defaults(env, tmp_path):
    conf = tmp_path / "c.json"
    conf.write_text(json.dumps({"max_rooms": 3, "push_window": 120, "ws_rate": 2.5}))
    env.setenv("YUNLIAN_CONFIG", str(conf))
    env.setenv("YUNLIAN_MAX_ROOMS", "5")  # env wins over the file
    env.setenv("YUNLIAN_DB", "sqlite:///env.db")  # the old names still work
    env.setenv("YUNLIAN_WORKERS", "auto")
    env.setenv("YUNLIAN_DEMO_ROOM", "0")
    env.setenv("YUNLIAN_DEMO_PAYMENTS", "")  # empty: unset
    env.setenv("YUNLIAN_ONLINE_VOICE", "1")
    s = Settings.from_env()
    assert s.max_rooms == 5 and s.push_window == 120 and s.ws_rate == 2.5
    assert s.db_url == "sqlite:///env.db" and s.workers == (os.cpu_count() or 1)
    assert (s.demo_room, s.demo_payments, s.online_voice) == (False, False, True)
    assert s.body_limit == 1024 * 1024  # default
    s.load(conf)  # `serve --config`: the file over the current values, as before
    assert s.max_rooms == 3


@pytest.mark.parametrize(
    "data, names",
    [
        ({"max_romos": 2}, ["'max_romos'", "unknown setting", "did you mean 'max_rooms'"]),
        ({"push_window": "300"}, ["'push_window'", "number of seconds"]),
        ({"max_rooms": -1}, ["'max_rooms'", "greater than or equal to 0"]),
        ({"workers": "many"}, ["'workers'", "'auto'"]),
        ({"cors_origins": "*"}, ["'cors_origins'", "valid list"]),
        ({"log_level": "LOUD"}, ["'log_level'", "DEBUG"]),
        ({"writers": {"x": {"backend": "gpt"}}}, ["'writers'", "backend must be one of"]),
    ],
)
def test_a_bad_file_value_names_the_key_and_the_reason(env, tmp_path, data, names):
    conf = tmp_path / "c.json"
    conf.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as err:
        Settings().load(conf)
    for part in names:
        assert part in str(err.value), str(err.value)
    assert str(conf) in str(err.value)


def test_a_bad_environment_value_names_the_variable(env):
    env.setenv("YUNLIAN_MAX_ROOMS", "lots")
    with pytest.raises(ConfigError, match="'max_rooms' from env YUNLIAN_MAX_ROOMS"):
        Settings.from_env()
    env.setenv("YUNLIAN_MAX_ROOMS", "4")
    env.setenv("YUNLIAN_DEMO_ROOM", "maybe")
    with pytest.raises(ConfigError, match="YUNLIAN_DEMO_ROOM"):
        Settings.from_env()


def test_unreadable_or_non_object_files_are_refused(env, tmp_path):
    conf = tmp_path / "c.json"
    conf.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="JSON object"):
        Settings().load(conf)
    conf.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read config"):
        Settings().load(conf)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "web.cli", *args],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("YUNLIAN_")},
    )


def test_config_check_names_a_bad_key_and_exits_2(tmp_path):
    conf = tmp_path / "bad.json"
    conf.write_text(json.dumps({"max_rooms": 4, "ws_per_adress": 3}))
    res = _cli("config", "check", str(conf))
    assert res.returncode == 2
    assert "'ws_per_adress'" in res.stderr and "unknown setting" in res.stderr
    assert "ws_per_address" in res.stderr  # the key it probably meant
    assert "Traceback" not in res.stderr
    conf.write_text(json.dumps({"max_rooms": "4"}))
    res = _cli("config", "check", str(conf))
    assert res.returncode == 2 and "'max_rooms'" in res.stderr and "integer" in res.stderr
    res = _cli("config", "check", str(tmp_path / "missing.json"))
    assert res.returncode == 2 and "cannot read config" in res.stderr


def test_config_check_accepts_a_good_file(tmp_path):
    conf = tmp_path / "good.json"
    conf.write_text(json.dumps({"max_rooms": 4, "trusted_proxies": ["10.0.0.0/8"]}))
    res = _cli("config", "check", str(conf))
    assert res.returncode == 0, res.stderr
    assert "max_rooms" in res.stdout


def test_serve_refuses_a_bad_environment_value_with_exit_2():
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUNLIAN_")}
    res = subprocess.run(
        [sys.executable, "-m", "web.cli", "serve", "--port", "0"],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "YUNLIAN_MAX_ROOMS": "lots"},
    )
    assert res.returncode == 2
    assert "'max_rooms' from env YUNLIAN_MAX_ROOMS" in res.stderr and "Traceback" not in res.stderr
