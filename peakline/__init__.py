"""The ``peakline`` command: one entry point that the simulator, the load tests and the
reference backend plug their commands into (:mod:`peakline.cli`)."""
