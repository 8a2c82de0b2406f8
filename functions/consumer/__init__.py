"""The consumer function: SQS batches from the three queues, dispatched by message type."""
