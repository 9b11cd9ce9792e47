"""mite's runner as a Python class: asks a transport for work and runs it as asyncio tasks.

``mite runner`` itself runs natively (the Rust runner behind a ZeroMQ transport); this class is
for code that drives a runner through mite's transport protocol directly (tests, tools):

* ``await transport.hello()`` -> ``(runner_id, test_name, config_pairs)``
* ``await transport.request_work(runner_id, current_work, completed_data_ids, max_work)``
  -> ``(work, config_pairs, stop)``, ``work`` being ``(scenario_id, scenario_data_id,
  journey_spec, args)`` items
* ``await transport.bye(runner_id)``

Journey fixtures are not applied here (the native runner applies them).
"""

import asyncio
import logging
from collections import Counter

from .context import Context
from .utils import spec_import

logger = logging.getLogger(__name__)

__all__ = ["Runner"]


class Runner:
    def __init__(
        self,
        transport,
        msg_sender,
        loop_wait_min=0.01,
        loop_wait_max=0.5,
        max_work=None,
        loop=None,
        debug=False,
    ):
        self._transport = transport
        self._send = msg_sender
        self._loop_wait_min = loop_wait_min
        self._loop_wait_max = loop_wait_max
        self._max_work = max_work
        self._debug = debug
        self._stop = False
        self._journeys = {}

    def should_stop(self):
        return self._stop

    def _journey(self, spec):
        if spec not in self._journeys:
            self._journeys[spec] = spec_import(spec)
        return self._journeys[spec]

    async def _execute(self, context, journey_spec, args):
        journey = self._journey(journey_spec)
        try:
            async with context.transaction("__root__"):
                if args is None:
                    await journey(context)
                else:
                    await journey(context, *args)
        except Exception:
            # The transaction has reported it (an `exception` or `error` message).
            pass

    async def run(self):
        runner_id, test_name, config_pairs = await self._transport.hello()
        config = dict(config_pairs)
        running = {}
        completed = []
        context_id = 0
        self._stop = False

        def finish(done):
            for task in done:
                scenario_id, data_id = running.pop(task)
                if data_id is not None:
                    completed.append((scenario_id, data_id))
                # A journey that cannot be imported ends the run, as in mite.
                task.result()

        async def wait_for_one():
            if not running:
                return
            done, _ = await asyncio.wait(
                running, timeout=self._loop_wait_max, return_when=asyncio.FIRST_COMPLETED
            )
            finish(done)

        while not self._stop:
            current = dict(Counter(scenario_id for scenario_id, _ in running.values()))
            work, changes, self._stop = await self._transport.request_work(
                runner_id, current, completed, self._max_work
            )
            completed = []
            config.update(changes)
            for scenario_id, data_id, journey_spec, args in work:
                context_id += 1
                id_data = {
                    "test": test_name,
                    "runner_id": runner_id,
                    "journey": journey_spec,
                    "context_id": context_id,
                    "scenario_id": scenario_id,
                    "scenario_data_id": data_id,
                }
                context = Context(
                    self._send,
                    config,
                    id_data=id_data,
                    should_stop_func=self.should_stop,
                    debug=self._debug,
                )
                task = asyncio.ensure_future(self._execute(context, journey_spec, args))
                task.set_name(f"{scenario_id}_{data_id}_{journey_spec}")
                running[task] = (scenario_id, data_id)
            if running:
                await wait_for_one()
            elif not self._stop:
                await asyncio.sleep(self._loop_wait_max)
        while running:
            current = dict(Counter(scenario_id for scenario_id, _ in running.values()))
            await self._transport.request_work(runner_id, current, completed, 0)
            completed = []
            await wait_for_one()
        await self._transport.request_work(runner_id, {}, completed, 0)
        await self._transport.bye(runner_id)
