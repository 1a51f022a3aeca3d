"""Runs and their execution: one record-returning service for every front end and the server.

- ``reads``: pages of runs, one run with its task runs and DAG (records; JSON is the server's job,
  dagy/server/shapes.py);
- ``trigger``: queue a run of a deployment or flow version, or a retry (with its audit row);
- ``control``: cancel a run, set a task run's status by hand (with their audit rows);
- ``execute``: execute a flow, a retry or a queued run in this process; retention;
- ``logs``: a run's or task run's log, page by page;
- ``queue``, ``child``, ``code``, ``env``, ``events``: the server's workers and their children.
"""
