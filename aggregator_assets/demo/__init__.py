"""Demo support: a local Kafka-protocol broker and a producer of realistic telemetry."""
