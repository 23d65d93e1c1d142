"""``peakline rehearse``: a seller's own Ozon integration against the simulated peak.

The scenario's orders (the ones ``peakline simulate`` draws for the seed) are sent to the
reference backend as open arrivals, time-compressed; the integration under test talks to the
backend through a recording proxy, which notes per posting when the integration first saw
it, shipped it and fetched its label; the gate judges the measures (``gate.py``).

``ledger`` what happened, per posting and per second; ``proxy`` the recording proxy;
``traffic`` buyers and carriers; ``gate`` thresholds on the measures; ``run`` the whole
rehearsal; ``cli`` the command.
"""
