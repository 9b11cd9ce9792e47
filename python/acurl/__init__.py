"""acurl's error names, for journeys written for mite (``except acurl.AcurlError``,
``except acurl.RequestError``): they are mite-rs's HTTP errors.

mite's HTTP client was acurl, on libcurl; mite-rs's is its own, so only the names journeys
catch are here, not acurl's sessions. Installing mite-rs replaces the acurl package of a
virtualenv that had mite in it.
"""

from mite_http.exceptions import AcurlError, RequestError

__all__ = ["AcurlError", "RequestError"]
