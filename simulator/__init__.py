"""The fulfilment network as a discrete-event model (SimPy, numpy, networkx)."""
