"""display layer (see ARCHITECTURE.md)."""
