"""Independent re-implementations of lakehouse outputs, used as oracles in differential tests."""
