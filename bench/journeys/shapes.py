"""Benchmark shapes (a), (b) and (c) of bench/run, one file for mite and mite-rs alike.

    mite scenario test shapes:scenario_a --add-to-config=bench_url:http://127.0.0.1:8080/ \
        --add-to-config=duration:10

Config: ``bench_url`` is the target; ``duration`` (seconds, default 10) bounds each scenario so
the run ends by itself; ``journeys`` overrides the concurrency of a scenario (in (e), its cap);
``rate`` the starts per second of (e), which only mite-rs runs (an arrival-rate model).
"""

from mite import ensure_fixed_separation
from mite.volume_model import Constant
from mite_http import mite_http


@mite_http
async def one_request(ctx):
    """(a): one request per journey, in a transaction."""
    async with ctx.transaction("Request"):
        await ctx.http.get(ctx.config.get("bench_url"))


@mite_http
async def thousand_requests(ctx):
    """(b): a long-lived journey looping over a thousand requests."""
    url = ctx.config.get("bench_url")
    for _ in range(1000):
        await ctx.http.get(url)


@mite_http
async def paced_request(ctx):
    """(c): one request a second per journey."""
    async with ensure_fixed_separation(1):
        async with ctx.transaction("Request"):
            await ctx.http.get(ctx.config.get("bench_url"))


def _constant(config, journey, journeys):
    # `Constant` is `lambda start, end: journeys` with an end, so the run stops by itself.
    duration = int(config.get("duration", 10))
    journeys = int(config.get("journeys", journeys))
    return [[f"shapes:{journey}", None, Constant(duration=duration, tps=journeys)]]


def scenario_a(config):
    """50 concurrent one-request journeys: mite's natural closed loop."""
    return _constant(config, "one_request", 50)


def scenario_b(config):
    """50 concurrent journeys of a thousand requests each."""
    return _constant(config, "thousand_requests", 50)


def scenario_c(config):
    """10,000 concurrent journeys, each paced at one request a second."""
    return _constant(config, "paced_request", 10_000)


def scenario_e(config):
    """An open model: 5,000 one-request journeys started a second, at most 1,000 at once."""
    # mite-rs only; imported here so that original mite can load the other shapes.
    from mite.volume_model import ConstantRate

    duration = int(config.get("duration", 10))
    rate = float(config.get("rate", 5000))
    cap = int(config.get("journeys", 1000))
    model = ConstantRate(duration=duration, rate=rate, max_journeys=cap)
    return [["shapes:one_request", None, model]]
