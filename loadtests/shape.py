"""The Locust ``LoadTestShape`` that plays a scenario's demand curve (see ``loadtests.profile``)."""

from __future__ import annotations

from locust import LoadTestShape

from loadtests.profile import LoadPlan, make_plan
from simulator.scenario import load_scenario


class ScenarioShape(LoadTestShape):
    """Locust shape playing the plan the run's options describe (see ``locustfile.py``).

    The plan is built on the first tick, once Locust has parsed the command line:
    ``--peakline-scenario``, ``--peakline-shape``, ``--peakline-duration`` and
    ``--peakline-users``.
    """

    plan: LoadPlan | None = None

    def _load_plan(self) -> LoadPlan:
        opts = self.runner.environment.parsed_options
        scenario = load_scenario(opts.peakline_scenario)
        return make_plan(scenario, opts.peakline_shape, float(opts.peakline_duration),
                         int(opts.peakline_users))

    def tick(self) -> tuple[int, float] | None:
        if self.plan is None:
            self.plan = self._load_plan()
        stage = self.plan.stage_at(self.get_run_time())
        if stage is None:
            return None
        return stage.users, stage.spawn_rate
