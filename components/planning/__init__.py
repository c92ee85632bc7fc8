"""The planning domain: what a stack needs and means before anything exists: capacity, cost, reachability."""
