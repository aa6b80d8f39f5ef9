"""A training script written the way SageMaker's docs write them: it knows nothing of harness.
It records what the training contract gave it and saves the pretrained model it was given."""

import json
import os
import shutil
import sys

channels = json.loads(os.environ["SM_CHANNELS"])
seen = {"argv": sys.argv[1:],
        "env": {k: v for k, v in os.environ.items() if k.startswith("SM_")},
        "channels": {name: sorted(os.listdir(os.environ[f"SM_CHANNEL_{name.upper()}"]))
                     for name in channels}}
output = os.environ["SM_OUTPUT_DATA_DIR"]
with open(os.path.join(output, "seen.json"), "w") as f:
    json.dump(seen, f)
with open(os.path.join(output, "metrics.json"), "w") as f:
    json.dump({"channels": len(channels)}, f)
with open(os.path.join(output, "log_history.json"), "w") as f:
    json.dump([], f)
model_dir = os.environ["SM_MODEL_DIR"]
shutil.copytree(os.environ["SM_CHANNEL_MODEL"], model_dir, dirs_exist_ok=True)
with open(os.path.join(model_dir, "written-by-the-script.txt"), "w") as f:
    f.write("probe\n")
