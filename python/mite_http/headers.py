"""Response headers: a dict with lower-case keys, looked up case-insensitively."""


class Headers(dict):
    """Header names are stored lower-case; repeated headers are joined with ``", "``."""

    def __init__(self, pairs=()):
        super().__init__()
        for name, value in pairs:
            key = name.lower()
            if key in self:
                dict.__setitem__(self, key, f"{dict.__getitem__(self, key)}, {value}")
            else:
                dict.__setitem__(self, key, value)

    def __getitem__(self, key):
        return super().__getitem__(key.lower())

    def __contains__(self, key):
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key, default=None):
        return super().get(key.lower(), default)
