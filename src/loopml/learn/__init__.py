"""loopml.learn."""
