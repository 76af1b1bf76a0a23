"""Workers: what runs one task and turns its result into an Outcome."""
