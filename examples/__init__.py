"""Example toolkits a user might write: `examples.shop` and `examples.transit`."""
