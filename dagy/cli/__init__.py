"""The ``dagy`` command line: thin click commands over dagy.services."""
