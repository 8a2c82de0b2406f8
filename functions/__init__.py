"""Lambda entry points: one folder per function, each only parses its event and calls the layer."""
