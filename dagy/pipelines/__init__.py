"""Pipelines as data: a YAML pipeline or a visual-builder draft, compiled to the FlowSpec a Python
flow builds, so the same engine, store and executors run it.

``model`` is the one in-memory form (a Pipeline of Steps); ``yaml_format`` reads and writes the YAML;
``canvas`` converts a draft's ``canvas_json``; ``check`` finds every problem; ``compile`` turns a
checked Pipeline into a FlowSpec; ``loader`` makes a pipeline file load like a flow file.
"""
