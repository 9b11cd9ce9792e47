"""mite's controller as a Python class, for code that serves runners through mite's transport
protocol itself (``mite.zmq.ControllerServer(...).run(controller)``). ``mite controller`` runs
natively and does not use it.

``Controller(testname, scenario_manager, config_manager)``: ``hello()``, ``await
request_work(runner_id, current_work, completed_data_ids, max_work)``, ``report(sender)``,
``should_stop()``, ``bye(runner_id)``. A runner counts as active while it asked for work in the
last ``RunnerTracker.timeout`` seconds and has not said bye.
"""

import time
from collections import Counter

__all__ = ["Controller", "RunnerTracker", "WorkTracker"]


class RunnerTracker:
    """When each runner last asked, and how often runners ask (hits per second)."""

    def __init__(self, timeout=10):
        self._timeout = timeout
        self._hits = {}

    def _prune(self, now):
        for runner_id, hits in list(self._hits.items()):
            self._hits[runner_id] = [t for t in hits if now - t <= self._timeout]

    def hit(self, runner_id):
        now = time.time()
        self._hits.setdefault(runner_id, []).append(now)
        self._prune(now)

    def remove(self, runner_id):
        self._hits.pop(runner_id, None)

    def get_active(self):
        self._prune(time.time())
        return [runner_id for runner_id, hits in self._hits.items() if hits]

    def get_hit_rate(self):
        self._prune(time.time())
        return sum(len(hits) for hits in self._hits.values()) / self._timeout


class WorkTracker:
    """Per runner: what it says it runs, plus what it was given since it last said."""

    def __init__(self):
        self._actual = {}
        self._assumed = {}

    def set_actual(self, runner_id, work):
        self._actual[runner_id] = Counter(dict(work))
        self._assumed[runner_id] = Counter()

    def add_assumed(self, runner_id, work):
        self._assumed.setdefault(runner_id, Counter()).update(dict(work))

    def _of(self, runner_id):
        return self._actual.get(runner_id, Counter()) + self._assumed.get(runner_id, Counter())

    def get_runner_total(self, runner_id):
        return sum(self._of(runner_id).values())

    def get_total_work(self, runner_ids):
        total = Counter()
        for runner_id in runner_ids:
            total.update(self._of(runner_id))
        return dict(total)

    def remove_runner(self, runner_id):
        self._actual.pop(runner_id, None)
        self._assumed.pop(runner_id, None)


class Controller:
    def __init__(self, testname, scenario_manager, config_manager):
        self._testname = testname
        self._scenario_manager = scenario_manager
        self._config_manager = config_manager
        self._runner_tracker = RunnerTracker()
        self._work_tracker = WorkTracker()
        self._next_runner_id = 1

    def hello(self):
        runner_id = self._next_runner_id
        self._next_runner_id += 1
        return runner_id, self._testname, self._config_manager.get_changes_for_runner(runner_id)

    async def request_work(self, runner_id, current_work, completed_data_ids, max_work=None):
        self._work_tracker.set_actual(runner_id, current_work)
        self._runner_tracker.hit(runner_id)
        await self._scenario_manager.checkin_data(completed_data_ids)
        active = self._runner_tracker.get_active()
        work, handed_out = await self._scenario_manager.get_work(
            self._work_tracker.get_total_work(active),
            self._work_tracker.get_runner_total(runner_id),
            len(active),
            max_work,
            self._runner_tracker.get_hit_rate(),
        )
        self._work_tracker.add_assumed(runner_id, handed_out)
        changes = self._config_manager.get_changes_for_runner(runner_id)
        return work, changes, not self._scenario_manager.is_active()

    def report(self, sender):
        active = self._runner_tracker.get_active()
        sender(
            {
                "type": "controller_report",
                "time": time.time(),
                "test": self._testname,
                "required": self._scenario_manager.get_required_work(),
                "actual": self._work_tracker.get_total_work(active),
                "num_runners": len(active),
            }
        )

    def should_stop(self):
        return not self._scenario_manager.is_active() and not self._runner_tracker.get_active()

    def bye(self, runner_id):
        self._runner_tracker.remove(runner_id)
        self._work_tracker.remove_runner(runner_id)
