"""`local`: train.py under `accelerate launch` on this machine, a local endpoint process.

The package, as every mode's: `mode.py` the Mode class, `settings.py` its config section."""
