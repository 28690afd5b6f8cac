"""loopml.data: reading, schema inference, validation, profiling and splitting."""
