"""Node types of the visual builder: what a canvas node or a YAML pipeline step can be.

``model`` holds the definition records; ``definitions`` the 27 built-ins as data; ``registry`` merges
them with plugins' nodes (entry-point group ``dagy.nodes``) and an org's custom nodes; ``run`` holds
the implementations the engine calls.
"""
