"""harness: fine-tune Transformers models and deploy them the SageMaker way, locally first."""
