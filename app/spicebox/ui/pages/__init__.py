"""The setup UI's pages, one module per area."""
