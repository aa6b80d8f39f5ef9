"""Batch transform: records as SageMaker splits, filters and joins them, and the job's data plane."""
