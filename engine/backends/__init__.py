"""Model backends: each turns requests into raw results."""
