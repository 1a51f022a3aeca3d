"""The implementations the engine calls for built-in node types (``dagy.nodes.run.<module>:<fn>``).

Each is a plain ``@task`` function ``fn(config, inputs=None)``: ``config`` is the node's form with
params substituted, ``inputs`` its upstream results keyed by connector id (canvas) or ``with:`` key
(YAML). A failure is an exception whose one-line message becomes the task run's error. A dataframe
travels between nodes as a Parquet file (``frames.py``), transformed with DuckDB SQL.
"""
