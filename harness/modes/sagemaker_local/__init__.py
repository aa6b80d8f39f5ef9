"""`sagemaker-local`: SageMaker SDK local mode. Containers run under docker-compose, S3 is

The package, as every mode's: `mode.py` the Mode class, `settings.py` its config section."""
