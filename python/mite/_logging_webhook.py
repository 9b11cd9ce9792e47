"""``mite controller --logging-webhook=URL`` (or ``MITE_LOGGING_URL``): tells an HTTP server
when a test starts and ends, as mite does. ``POST {url}/start`` with ``{"testname": spec}``
answers 200 and ``{"newid": id}``; ``POST {url}/end`` with ``{"id": id}`` answers 204. A
webhook that fails is logged and the test goes on."""

import json
import logging
import os
from urllib.error import URLError
from urllib.request import Request, urlopen

logger = logging.getLogger("mite.controller")

TIMEOUT = 10


def url_from(option):
    return option if option is not None else os.environ.get("MITE_LOGGING_URL")


def _post(url, body):
    request = Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    return urlopen(request, timeout=TIMEOUT)


def _joined(base, path):
    return (base if base.endswith("/") else base + "/") + path


def start(base, testname):
    """The id the server gave this test, or None."""
    url = _joined(base, "start")
    logger.info(f"Logging test start to {url}")
    try:
        with _post(url, {"testname": testname}) as response:
            if response.status == 200:
                return json.loads(response.read())["newid"]
            logger.warning(f"Could not complete test start logging; status was {response.status}")
    except (URLError, OSError, ValueError, KeyError) as e:
        logger.warning(f"Could not complete test start logging: {type(e).__name__}: {e}")
    return None


def end(base, logging_id):
    if logging_id is None:
        return
    url = _joined(base, "end")
    logger.info(f"Logging test end to {url}")
    try:
        with _post(url, {"id": logging_id}) as response:
            if response.status != 204:
                logger.warning(f"Could not complete test end logging; status was {response.status}")
    except (URLError, OSError) as e:
        logger.warning(f"Could not complete test end logging: {type(e).__name__}: {e}")
