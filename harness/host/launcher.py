"""accelerate's launcher, exiting as the script it ran exited: with its exit code, and without
the launcher's own traceback (a CalledProcessError that says only that the script failed)."""

import subprocess
import sys

from accelerate.commands.launch import main

if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as e:
        sys.exit(e.returncode)
