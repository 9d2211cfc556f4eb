"""Jupyter server settings of `bash run.sh lab` (run.sh puts this folder on JUPYTER_CONFIG_PATH; a setting of the
user's own Jupyter config wins over these).

Opening a notebook in JupyterLab starts its kernel, which writes the kernel's display name and `language_info` into the
notebook's metadata; the next save (autosave, Ctrl-S) would then change a committed notebook that nobody edited. So
before JupyterLab saves a notebook of the nbdev source folder (nbs/), it is cleaned as `nbdev_clean` cleans it, with
the project's settings.ini: what is saved is what `nbdev_clean` would leave, and an unedited notebook saves unchanged.
Other notebooks (the executed experiment notebooks of papermill_runs/, a scratch notebook elsewhere) are saved as they
are.
"""

from pathlib import Path


def clean_source_notebook(model: dict, path: str, contents_manager=None, **kwargs):
    "Pre-save hook: clean `model` (a contents model about to be saved at API `path`) when it is a notebook of nbs/."
    if model.get("type") != "notebook" or model.get("content", {}).get("nbformat") != 4:
        return
    from nbdev.clean import clean_nb
    from nbdev.config import get_config

    get_config.cache_clear()  # settings.ini as it is now, as nbdev's own hook reads it
    file = Path(contents_manager.root_dir if contents_manager else ".").resolve() / path
    try:
        cfg = get_config(path=file.parent)
        inside = file.relative_to(cfg.nbs_path).parts
    except (FileNotFoundError, ValueError):  # no settings.ini above it, or not under its nbs/
        return
    if any(part.startswith(("_", ".")) for part in inside[:-1]):  # folders nbdev_clean skips (checkpoints, _proc)
        return
    clean_nb(
        model["content"],
        clear_all=cfg.clear_all,
        allowed_metadata_keys=cfg.get("allowed_metadata_keys").split(),
        allowed_cell_metadata_keys=cfg.get("allowed_cell_metadata_keys").split(),
        clean_ids=cfg.clean_ids,
    )


c.ContentsManager.pre_save_hook = clean_source_notebook  # noqa: F821 (`c`: the config this file fills)
