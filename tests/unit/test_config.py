"""Settings from the environment, with errors that say what is wrong."""

import pytest

from connlab.config import ConfigError, Settings, cpu_list, cpu_set


def test_defaults():
    settings = Settings.from_env({})
    assert (settings.arch, settings.workers, settings.port, settings.metrics_port) == ("single-thread", 1, 7000, 8000)


def test_hybrid_defaults_to_two_by_two():
    settings = Settings.from_env({"ARCH": "hybrid"})
    assert (settings.processes, settings.workers) == (2, 2)


def test_keepalive_like_redis_by_default_and_off_with_zero():
    assert Settings.from_env({}).keepalive == (300, 100, 3)
    env = {"KEEPALIVE_IDLE": "0", "KEEPALIVE_INTERVAL": "5", "KEEPALIVE_COUNT": "2"}
    assert Settings.from_env(env).keepalive == (0, 5, 2)
    assert Settings.from_env(env).fields()["keepalive"] == "0,5,2"


def test_protocol_shown_with_its_limits():
    settings = Settings.from_env({"PROTOCOL": "resp", "MAX_BULK": "64"})
    assert settings.protocol.name == "resp" and settings.limits.max_bulk == 64
    assert settings.describe()["protocol"] == "resp"  # INFO and connlab_server_info
    assert settings.fields()["max_bulk"] == "64"


def test_empty_values_mean_default():
    assert Settings.from_env({"WORKERS": "", "ACCEPT_MODE": ""}).accept_mode == "epoll"


@pytest.mark.parametrize(
    "env, message",
    [
        ({"ARCH": "threaded"}, "ARCH='threaded' is not one of: single-thread"),
        ({"WORKERS": "many"}, "WORKERS='many' is not an integer"),
        ({"WORKERS": "0"}, "WORKERS=0 must be at least 1"),
        ({"ACCEPT_MODE": "poll"}, "ACCEPT_MODE='poll' is not one of: epoll, exclusive, blocking"),
        ({"WORKER_NICE": "20"}, "WORKER_NICE=20 must be at most 19"),
        ({"PROTOCOL": "http2"}, "PROTOCOL='http2' is not one of: resp, http"),
    ],
)
def test_bad_values(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_cpu_list_format():
    assert cpu_list({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8"
    assert cpu_list({3}) == "3"
    assert cpu_set("0-2,5,7-8") == {0, 1, 2, 5, 7, 8} and cpu_set("3") == {3}
