-- Replay (docs/replay.md): each task run's source hash (its code and config, so a replay reuses
-- only unchanged steps and `dagy runs diff` tells an edited step), and the run a replay replayed.
ALTER TABLE task_runs ADD COLUMN source_hash VARCHAR;
ALTER TABLE runs ADD COLUMN replay_of VARCHAR;
