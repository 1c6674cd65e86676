"""Global path planning."""
