"""The visual builder: the node registry's custom nodes and DAG drafts."""
