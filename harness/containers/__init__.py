"""Docker: the engine, harness's training/serving image, and LocalStack (the emulator)."""
