"""Load tests: Locust traffic shaped by a scenario, and a pass/fail gate for CI.

locustfile.py  the Locust users (buyers, the seller's staff by role, carriers)
shape.py       the Locust ``LoadTestShape``; profile.py the demand curve it plays (no Locust)
world.py       what users know: keys by role, regions, catalogue, posting hand-over queues
thresholds.py  k6-like threshold expressions and their evaluation on Locust's statistics
results.py     statistics read back from Locust's JSON; summary JSON and JUnit XML
runner.py      one run end to end (backend.py, accounts.py, processes.py start and stop things)
cli.py         ``peakline loadtest``;  ci_smoke.sh the CI smoke gate
"""
