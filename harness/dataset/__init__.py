"""Datasets: loading (hub or files), checks of rows, columns and labels, the hub."""
