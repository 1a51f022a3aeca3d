"""The engine: executes a FlowSpec's DAG on an executor, recording state and artifacts."""
