"""Cookies for ``cookies=`` on requests (acurl's ``Cookie``)."""

from collections import namedtuple


class Cookie(namedtuple("Cookie", ["domain", "name", "value"])):
    """A session cookie for ``domain`` and its subdomains, path ``/``."""

    __slots__ = ()
