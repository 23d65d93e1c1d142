"""Assembly (§5.7): ship a posting into packages, partial assembly."""
