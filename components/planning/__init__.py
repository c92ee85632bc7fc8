"""The planning domain: what a stack needs before anything exists (capacity) and what it costs."""
