"""Dagster definitions, one module per concern; `pipelines/definitions.py` loads them all."""
