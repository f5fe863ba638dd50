"""aggregator-assets: Kafka telemetry streams into an analysis-ready Parquet lake, with Dagster."""
