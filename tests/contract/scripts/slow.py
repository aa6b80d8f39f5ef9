"""A training script that runs until it is stopped."""

import time

print("training started", flush=True)
time.sleep(600)
