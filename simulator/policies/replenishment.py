"""Built-in replenishment policies (filled in by the policies work)."""
