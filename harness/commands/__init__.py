"""One module per step of the flow. Each reads what earlier steps left in the run directory."""
