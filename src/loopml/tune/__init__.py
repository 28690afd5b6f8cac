"""loopml.tune."""
