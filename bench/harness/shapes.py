"""The four load shapes of the benchmark."""

import dataclasses

# Original mite divides --spawn-rate by the rate of work requests, which starves one-request
# journeys at its default of 1000; this keeps its limiter out of the way.
UNLIMITED_SPAWN_RATE = 1_000_000
# What shape (c) schedules: 10,000 journeys at one request a second each.
PACED_RATE = 10_000
# What shape (e) schedules: journey starts per second (an open model), and its cap.
OPEN_RATE = 5_000
OPEN_MAX_JOURNEYS = 1_000


@dataclasses.dataclass(frozen=True)
class Shape:
    key: str
    title: str
    scenario: str  # the mites' SCENARIO_SPEC
    journeys: int  # concurrency
    warmup: float  # seconds from the first request to the start of the measured window
    spawn_rate: int  # --spawn-rate, for both mites
    server: str  # "nginx" or "demo"


SHAPES = {
    s.key: s
    for s in (
        Shape(
            "a",
            "one request per journey, 50 concurrent journeys",
            "shapes:scenario_a",
            50,
            2.0,
            UNLIMITED_SPAWN_RATE,
            "nginx",
        ),
        Shape(
            "b",
            "50 journeys each looping over 1000 requests",
            "shapes:scenario_b",
            50,
            2.0,
            UNLIMITED_SPAWN_RATE,
            "nginx",
        ),
        # The window starts once the 10,000 journeys (spawned at 20,000/s) are all running.
        Shape(
            "c",
            "10,000 journeys, one request a second each (ensure_fixed_separation)",
            "shapes:scenario_c",
            10_000,
            4.0,
            20_000,
            "nginx",
        ),
        Shape(
            "d",
            "the seed's signin journey against `mite demo-app`, 100 concurrent journeys",
            "my_file:walkthrough_scenario",
            100,
            2.0,
            UNLIMITED_SPAWN_RATE,
            "demo",
        ),
        Shape(
            "e",
            f"a fixed arrival rate: {OPEN_RATE:,} one-request journeys started a second "
            f"(open model, at most {OPEN_MAX_JOURNEYS:,} at once)",
            "shapes:scenario_e",
            OPEN_MAX_JOURNEYS,
            2.0,
            UNLIMITED_SPAWN_RATE,
            "nginx",
        ),
    )
}
