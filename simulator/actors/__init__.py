"""SimPy actors of the model; each is a small class that starts its own processes and moves
batches of posting rows (numpy arrays), never one process per parcel.

- :mod:`.buyers`      places the sampled orders through the allocation policy; cancellations
- :mod:`.warehouses`  wave picking limited by shift capacity; handover to carriers
- :mod:`.sorting`     sorting centres and hubs (waves, cut-offs, late refusals; parcel-level mode)
- :mod:`.carriers`    line-haul trucks on departure schedules; continuous couriers
- :mod:`.suppliers`   replenishment decisions, purchase orders and deliveries
- :mod:`.stock`       the stock ledger per (SKU, warehouse) and its statistics
- :mod:`.postings`    posting rows, FIFO row queues, lifecycle-checked status moves
- :mod:`.schedule`    capacity curves and batched future events
- :mod:`.world`       the run context they share, and parcel routing between them
"""
