import logging
import os

import pytest

from mite.config import ConfigManager, default_config_loader


@pytest.fixture
def clean_env(monkeypatch):
    """An environment without any MITE_ variables from the machine running the tests."""
    for name in list(os.environ):
        if name.startswith("MITE_"):
            monkeypatch.delenv(name)
    return monkeypatch


# ConfigManager


def test_set_stamps_each_key_with_a_counting_version():
    cm = ConfigManager()
    cm.set("a", "x")
    cm.set("b", "y")
    cm.set("c", "z")

    assert cm._config == {"a": ("x", 1), "b": ("y", 2), "c": ("z", 3)}


def test_setting_a_key_again_gives_it_the_new_version():
    cm = ConfigManager()
    cm.set("a", "x")
    cm.set("b", "y")
    cm.set("a", "x2")

    assert cm._config["a"] == ("x2", 3)


def test_get_returns_the_value():
    cm = ConfigManager()
    cm.set("foo", "bar")

    assert cm.get("foo") == "bar"


def test_get_of_a_missing_key_returns_none():
    assert ConfigManager().get("foo") is None


def test_get_of_a_missing_key_returns_the_default():
    assert ConfigManager().get("foo", "bar") == "bar"


def test_get_of_a_key_set_to_none_returns_none_not_the_default():
    cm = ConfigManager()
    cm.set("foo", None)

    assert cm.get("foo", "bar") is None


def test_a_new_runner_gets_every_key_in_insertion_order():
    cm = ConfigManager()
    for name, value in [("k1", "v1"), ("k2", "v2"), ("k3", "v3")]:
        cm.set(name, value)

    assert cm.get_changes_for_runner("r1") == [("k1", "v1"), ("k2", "v2"), ("k3", "v3")]


def test_a_runner_gets_nothing_when_nothing_changed():
    cm = ConfigManager()
    cm.set("k1", "v1")
    cm.get_changes_for_runner("r1")

    assert cm.get_changes_for_runner("r1") == []


def test_a_runner_gets_only_keys_set_since_it_last_asked():
    cm = ConfigManager()
    cm.set("k1", "v1")
    cm.set("k2", "v2")
    cm.get_changes_for_runner("r1")
    cm.set("k2", "v2b")
    cm.set("k3", "v3")

    assert cm.get_changes_for_runner("r1") == [("k2", "v2b"), ("k3", "v3")]


def test_each_runner_is_tracked_separately():
    cm = ConfigManager()
    cm.set("k1", "v1")
    cm.get_changes_for_runner("r1")
    cm.set("k2", "v2")

    assert cm.get_changes_for_runner("r2") == [("k1", "v1"), ("k2", "v2")]
    assert cm.get_changes_for_runner("r1") == [("k2", "v2")]


def test_a_runner_with_no_config_yet_gets_an_empty_list():
    assert ConfigManager().get_changes_for_runner("r1") == []


def test_repr_joins_items_with_space_comma():
    cm = ConfigManager()
    cm.set("a", 1)
    cm.set("b", "x")

    assert repr(cm) == "ConfigManager(version=2, a=1 ,b=x)"


def test_repr_of_an_empty_manager():
    assert repr(ConfigManager()) == "ConfigManager(version=0, )"


def test_str_is_the_repr():
    cm = ConfigManager()
    cm.set("a", 1)

    assert str(cm) == "ConfigManager(version=1, a=1)"


# default_config_loader


def test_mite_conf_variables_become_string_values(clean_env):
    clean_env.setenv("MITE_CONF_app_url", "http://127.0.0.1:8000")
    clean_env.setenv("MITE_CONF_retries", "3")

    assert default_config_loader() == {"app_url": "http://127.0.0.1:8000", "retries": "3"}


def test_mite_eval_conf_variables_are_evaluated(clean_env):
    clean_env.setenv("MITE_EVAL_CONF_limits", "{'users': [1, 2], 'rate': 0.5 * 4}")

    assert default_config_loader() == {"limits": {"users": [1, 2], "rate": 2.0}}


def test_config_keys_keep_their_case(clean_env):
    clean_env.setenv("MITE_CONF_MixedCase", "v")

    assert list(default_config_loader()) == ["MixedCase"]


def test_other_environment_variables_are_ignored(clean_env):
    clean_env.setenv("NOT_MITE_CONF_x", "1")
    clean_env.setenv("MITE_CONFX", "1")

    assert default_config_loader() == {}


def test_loader_logs_each_key_at_debug_on_the_root_logger(clean_env, caplog):
    clean_env.setenv("MITE_CONF_plain_key", "v")
    clean_env.setenv("MITE_EVAL_CONF_eval_key", "1")
    caplog.set_level(logging.DEBUG)

    default_config_loader()

    logged = [r.getMessage() for r in caplog.records if r.name == "root" and r.levelno == 10]
    assert any("plain_key" in line for line in logged)
    assert any("eval_key" in line for line in logged)
