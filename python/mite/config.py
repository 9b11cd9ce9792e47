"""Test configuration, set on the controller and shared with every runner.

Journeys see the configuration as a plain dict (``ctx.config``); the controller keeps it in a
``ConfigManager``, which remembers which version each runner has so it only sends changes.
"""

import logging
import os

from mite._mite import ConfigVersions

__all__ = ["ConfigManager", "default_config_loader"]

logger = logging.getLogger()

_PLAIN_PREFIX = "MITE_CONF_"
_EVAL_PREFIX = "MITE_EVAL_CONF_"


class ConfigManager:
    """Versioned key/value configuration.

    Every ``set`` bumps a version counter (1, 2, 3, ...) and stamps the key with it, so that
    ``get_changes_for_runner`` can tell each runner only what changed since it last asked.
    The versions are kept by the native core (``mite._mite.ConfigVersions``), the same
    bookkeeping the controller uses for remote runners.
    """

    def __init__(self):
        self._versions = ConfigVersions()
        # runner id -> version that runner has seen
        self._runner_version_map = {}

    @property
    def _version(self):
        return self._versions.version

    @property
    def _config(self):
        """``{name: (value, version at which it was last set)}``, as mite keeps it."""
        return self._versions.entries()

    def set(self, name, value):
        self._versions.set(name, value)

    def get(self, name, default=None):
        return self._versions.get(name, default)

    def get_changes_for_runner(self, runner_id):
        """The ``(key, value)`` pairs set since this runner last asked (all of them at first)."""
        seen = self._runner_version_map.get(runner_id, 0)
        self._runner_version_map[runner_id] = self._versions.version
        return self._versions.changes_since(seen)

    def __repr__(self):
        # The " ," separator is mite's; output is kept identical.
        items = " ,".join(f"{name}={value}" for name, (value, _) in self._config.items())
        return f"ConfigManager(version={self._version}, {items})"

    def __str__(self):
        # mite's __str__ returns None, so str() raises TypeError there; that is fixed here.
        return repr(self)


def default_config_loader():
    """Configuration from the environment.

    ``MITE_CONF_<key>=value`` gives ``key`` the string ``value``; ``MITE_EVAL_CONF_<key>=expr``
    gives ``key`` the result of ``eval(expr)``. Keys keep their case.
    """
    config = {}
    for name, value in os.environ.items():
        if name.startswith(_PLAIN_PREFIX):
            key = name[len(_PLAIN_PREFIX) :]
            logger.debug("Config %r set from environment variable %s", key, name)
            config[key] = value
        elif name.startswith(_EVAL_PREFIX):
            key = name[len(_EVAL_PREFIX) :]
            logger.debug("Config %r set by evaluating environment variable %s", key, name)
            config[key] = eval(value)
    return config
