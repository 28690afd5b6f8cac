"""loopml.report."""
