"""Every path Dagy makes from a run id or a task run id stays inside the home."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagy.config.paths import DagyPaths, check_path_id
from dagy.errors import InvalidInputError


@pytest.mark.parametrize("bad", ["", ".", "..", "../x", "a/b", "a\\b", "a\x00b", "a\nb", "x" * 201])
def test_an_id_that_is_not_one_folder_name_is_refused_everywhere(bad):
    paths = DagyPaths(Path("/home/h/.dagy"))
    with pytest.raises(InvalidInputError) as err:
        check_path_id(bad)
    assert err.value.details == {"field": "task_run_id"}
    for make in (
        lambda: paths.task_log("run-1", bad),
        lambda: paths.task_run_dir("run-1", bad),
        lambda: paths.artifact_dir("run-1", bad),
    ):
        with pytest.raises(InvalidInputError):
            make()
    with pytest.raises(InvalidInputError):
        paths.run_log(bad)


def test_ordinary_ids_make_paths_under_the_run():
    paths = DagyPaths(Path("/h"))
    assert paths.task_log("r-1", "load-1") == Path("/h/runs/r-1/task_runs/load-1/task.log")
    assert paths.artifact_dir("r-1", "map_x-12") == Path("/h/artifacts/r-1/map_x-12")
