"""A training script that checkpoints to /opt/ml/checkpoints as SageMaker's docs describe, and
resumes from what it finds there. The first run saves one checkpoint file, then waits to be
reclaimed."""

import json
import os
import shutil
import time
from pathlib import Path

folder = os.path.join(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"), "checkpoints")
checkpoint = os.path.join(folder, "step-1.pt")
if not os.path.exists(checkpoint):
    with open(checkpoint, "w") as f:
        f.write("weights after step 1")
    print("checkpoint saved", flush=True)
    time.sleep(600)  # the rehearsed reclaim kills the job here
restored = {name: Path(folder, name).read_text() for name in os.listdir(folder)}
output = os.environ["SM_OUTPUT_DATA_DIR"]
with open(os.path.join(output, "seen.json"), "w") as f:
    json.dump({"restored": restored}, f)
with open(os.path.join(output, "metrics.json"), "w") as f:
    json.dump({}, f)
with open(os.path.join(output, "log_history.json"), "w") as f:
    json.dump([], f)
shutil.copytree(os.environ["SM_CHANNEL_MODEL"], os.environ["SM_MODEL_DIR"], dirs_exist_ok=True)
