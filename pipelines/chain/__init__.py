"""A chain of clinics: one input folder per clinic under `chain_root`, each built by the
one single-clinic build into its own warehouse under `chain_out`, and `chain.duckdb`,
the view that sets the clinics side by side. Dagster runs it as partitions
(`pipelines/defs/clinics.py`); `clinic-analytics chain` runs the same partitions."""
