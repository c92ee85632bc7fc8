"""Planning: what the registered objects mean, computed before anything is deployed."""
