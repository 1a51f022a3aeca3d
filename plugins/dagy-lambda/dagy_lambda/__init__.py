"""Dagy on AWS Lambda: ``pip install ./plugins/dagy-lambda`` (see its README)."""
