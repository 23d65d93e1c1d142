"""Calibration: a seller's history (Ozon Seller API client, CSV export) -> a fitted scenario
and an HTML report. ``peakline calibrate`` is :mod:`simulator.calibration.command`.

history -> fitting (demand_fit, fitting) -> scenario_writer / report; ozon_client and
ozon_history read the Seller API, csv_export a postings export, cities places names.
"""
