"""loopml.models."""
