"""`sagemaker`: real SageMaker, on the official Hugging Face DLCs.

The package, as every mode's: `mode.py` the Mode class, `settings.py` its config section."""
