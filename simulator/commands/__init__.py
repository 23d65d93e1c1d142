"""CLI commands of the simulator side (simulate, validate, compare, plan-stock)."""
