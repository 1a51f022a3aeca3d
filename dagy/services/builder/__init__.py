"""The visual builder's use cases: the node registry and custom nodes, and DAG drafts."""
