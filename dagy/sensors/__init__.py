"""Sensor types: one module each (``webhook``, ``polling``, ``s3``) with its config check and its
observation; ``dagy/services/triggers/sensors.py`` stores sensors and turns what they see into runs, and
``dagy/server/sensor_loop.py`` looks at the polling and s3 ones from `dagy serve`."""
