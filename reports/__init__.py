"""Reports: results turned into self-contained HTML (plotly, inline JS), JSON and CSV.

- :func:`reports.run_report.write_run_report` — one simulation run
- :func:`reports.comparison_report.write_comparison_report` — a policy comparison / sweep
- :func:`reports.loadtest_report.write_loadtest_report` — a Locust load test

The simulator never imports this package; commands call it after a run.
"""
