"""Kafka -> landing -> raw hours: fetch offsets, decode and validate in bulk, write hour files."""
