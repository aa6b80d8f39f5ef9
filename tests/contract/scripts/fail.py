"""A training script that fails, as scripts do."""

raise RuntimeError("the contract's failure marker")
