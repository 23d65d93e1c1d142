"""Built-in allocation policies (filled in by the policies work)."""
