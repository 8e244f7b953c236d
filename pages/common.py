"""What the pages share: how a run is named in a list, what a page says without runs, errors shown as
one sentence, and the classroom mode.

Classroom mode (``MEDSSL_CLASSROOM=1``) makes the app safe to share with a class: each browser
session gets a private workspace (a token kept in the session and in the address's ``workspace``
parameter, so that a reload keeps it) and sees, cancels and deletes only its own runs, unless the
teacher's view is on (``MEDSSL_TEACHER_KEY``, entered on the Runs page). A session may have
``MEDSSL_MAX_QUEUED_PER_SESSION`` runs waiting or running (default 2), everyone together
``MEDSSL_MAX_QUEUED`` (default 20). Datasets come from the built-in choices and the session's own
uploads only (no server folder), and uploads not used for ``MEDSSL_UPLOAD_MAX_AGE_DAYS`` days
(default 7) are removed. Outside classroom mode everything is visible and only the total limit holds.
"""

from __future__ import annotations

import functools
import hmac
import logging
import os
import re
import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable

import streamlit as st

from sslcore.runs.store import QueueLimits, RunNotFoundError, RunStoreError

CLASSROOM_VARIABLE = "MEDSSL_CLASSROOM"
TEACHER_KEY_VARIABLE = "MEDSSL_TEACHER_KEY"
PER_SESSION_VARIABLE, PER_SESSION_DEFAULT = "MEDSSL_MAX_QUEUED_PER_SESSION", 2
TOTAL_VARIABLE, TOTAL_DEFAULT = "MEDSSL_MAX_QUEUED", 20
UPLOAD_AGE_VARIABLE, UPLOAD_AGE_DEFAULT_DAYS = "MEDSSL_UPLOAD_MAX_AGE_DAYS", 7.0
WORKSPACE_PARAM = "workspace"
OWNER_STATE, TEACHER_STATE = "medssl_owner", "medssl_teacher"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")

LOG = logging.getLogger("medssl.app")
if not LOG.handlers:  # tracebacks go to the server's log (its stderr), never to the page
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    LOG.addHandler(_handler)
    LOG.propagate = False


def run_label(run, *, details: bool = True) -> str:
    """``#3 byol on synthetic (byol on synthetic, succeeded)``: a run as lists and pickers name it."""
    label = f"#{run.id} {run.name}"
    if not details:
        return label
    parts = [f"{run.method} on {run.dataset}" if run.method else None, run.state]
    return f"{label} ({', '.join(part for part in parts if part)})"


def no_runs(what: str) -> None:
    """Say that there is nothing to show yet, point to the Lab, and stop the page."""
    st.info(f"{what}: start one in the Lab.")
    st.page_link("pages/lab.py", label="Open the Lab", icon=":material/science:")
    st.stop()


# --- errors ----------------------------------------------------------------------------------

def error_sentence(error: BaseException) -> str:
    """What a person is told about ``error``: one sentence, no traceback. The engine's ``ValueError``
    and ``OSError`` messages are written for people and shown as they are."""
    if isinstance(error, MemoryError):
        return ("The server ran out of memory for this; try fewer images, a smaller image size or a smaller "
                "batch.")
    if isinstance(error, RunNotFoundError):
        return "This run no longer exists: it was deleted."
    if isinstance(error, (RunStoreError, sqlite3.Error)):
        return "The run store cannot be read just now; whoever runs the app finds why in the server log."
    if isinstance(error, (ValueError, OSError)) and str(error).strip():
        return " ".join(str(error).split())
    return f"Something went wrong ({type(error).__name__}); whoever runs the app finds the details in the server log."


def show_error(error: BaseException, doing: str = "drawing a page") -> None:
    """Log ``error`` with its traceback to the server log and show the page one sentence."""
    LOG.error("error while %s", doing, exc_info=error)
    st.error(error_sentence(error))


def friendly_errors(function: Callable) -> Callable:
    """Decorate a fragment (``@st.fragment`` on top, this below) so that an error inside it is one
    sentence in its place, with the traceback in the server log, and the rest of the page stays."""

    @functools.wraps(function)
    def guarded(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception as error:
            show_error(error, f"running {function.__name__}")
            return None

    return guarded


def current_run(store, run_id: int):
    """The run ``run_id``, or None after saying it was deleted (a live view that outlives its run)."""
    try:
        return store.get(run_id)
    except RunNotFoundError:
        st.info(f"Run #{run_id} no longer exists: it was deleted.")
        return None


# --- classroom mode --------------------------------------------------------------------------

def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _env_number(name: str, default: float, cast: Callable = int):
    try:
        value = cast(os.environ[name])
    except (KeyError, ValueError):
        return default
    return value if value > 0 else default


def classroom_mode() -> bool:
    """Whether the app serves a class (``MEDSSL_CLASSROOM=1``)."""
    return _env_flag(CLASSROOM_VARIABLE)


def server_paths_allowed() -> bool:
    """Whether a page may offer a folder on the server (the Lab's image-folder box): not in classroom mode."""
    return not classroom_mode()


def session_owner() -> str | None:
    """This browser session's workspace token in classroom mode, None otherwise. Made on the first
    call, kept in the session, and written to the address (``?workspace=``) so that a reload finds
    the same workspace; a token in the address is adopted when the session has none."""
    if not classroom_mode():
        return None
    token = st.session_state.get(OWNER_STATE)
    if token is None:
        offered = st.query_params.get(WORKSPACE_PARAM)
        token = offered if isinstance(offered, str) and _TOKEN.fullmatch(offered) else secrets.token_urlsafe(16)
        st.session_state[OWNER_STATE] = token
    if st.query_params.get(WORKSPACE_PARAM) != token:
        st.query_params[WORKSPACE_PARAM] = token
    return token


def teacher_view() -> bool:
    """Whether this session has entered the teacher key (classroom mode only)."""
    return classroom_mode() and bool(st.session_state.get(TEACHER_STATE))


def visible_owner() -> str | None:
    """The owner whose runs this session sees: its own in classroom mode, everyone's (None) in the
    teacher's view and outside classroom mode."""
    return None if teacher_view() else session_owner()


def visible_runs(store, **filters) -> list:
    """``store.list_runs(**filters)`` limited to what this session may see."""
    return store.list_runs(owner=visible_owner(), **filters)


def teacher_key_box() -> None:
    """The Runs page's teacher login: shown in classroom mode when ``MEDSSL_TEACHER_KEY`` is set."""
    key = os.environ.get(TEACHER_KEY_VARIABLE, "")
    if not classroom_mode() or not key:
        return
    with st.expander("Teacher's view", expanded=teacher_view()):
        if teacher_view():
            st.success("Teacher's view: every session's runs are listed, and you may cancel or delete any.")
            if st.button("Leave the teacher's view"):
                st.session_state[TEACHER_STATE] = False
                st.rerun()
            return
        entered = st.text_input("Teacher key", type="password", key="medssl_teacher_key")
        if entered:
            if hmac.compare_digest(entered.encode(), key.encode()):
                st.session_state[TEACHER_STATE] = True
                st.rerun()
            time.sleep(1.0)  # slows guessing down
            st.error("That is not the teacher key.")


def queue_limits() -> QueueLimits:
    """The queue limits of this app: per session in classroom mode, in total always."""
    total = _env_number(TOTAL_VARIABLE, TOTAL_DEFAULT)
    if not classroom_mode():
        return QueueLimits(total=total)
    return QueueLimits(per_owner=_env_number(PER_SESSION_VARIABLE, PER_SESSION_DEFAULT), total=total)


def check_dataset_allowed(spec: str) -> None:
    """In classroom mode, refuse a dataset that is neither a built-in choice nor this session's upload."""
    if not classroom_mode():
        return
    from sslcore.data import dataset_choices
    from sslcore.data.uploads import uploaded_datasets

    allowed = set(dataset_choices()) | {str(path) for path in uploaded_datasets(session_owner())}
    if spec not in allowed:
        raise ValueError("In classroom mode a run reads the built-in datasets or your own uploads only.")


def queue_experiment(store, values: dict[str, Any], name: str, *, dataset=None) -> int:
    """Validate an experiment (``sslcore.experiments.config.validate_experiment``), queue it as this
    session's run within the queue limits, make sure a worker runs, and return the run's id.

    Args:
        store: the run store.
        values: the experiment config as a dict (``ExperimentConfig.to_dict()`` or raw form values).
        name: the run's name.
        dataset: the loaded dataset, when at hand (MICLe's need for patients is then checked on it).

    Raises:
        ValueError: the config cannot run (one sentence per problem), the dataset is not allowed,
            or a queue limit is reached; nothing is queued.
    """
    from sslcore.experiments.config import validate_experiment
    from sslcore.runs import ensure_worker

    config = validate_experiment(values, dataset=dataset)
    check_dataset_allowed(config.pretrain.dataset)
    run_id = store.create_run("experiment", config.to_dict(), name=name, owner=session_owner(),
                              limits=queue_limits())
    ensure_worker(store.path)
    return run_id


def save_session_upload(upload) -> Path:
    """Save a Streamlit upload as this session's dataset (never overwriting an earlier upload) and,
    in classroom mode, remove everyone's uploads older than the age limit that no waiting or running
    run reads. Returns the saved file's path, a dataset spec.

    Raises:
        ValueError: the file is not a usable MedMNIST-layout ``.npz``.
    """
    from sslcore.data.uploads import remove_old_uploads, save_upload
    from sslcore.runs import RunStore

    path = save_upload(upload.name, upload.getvalue(), owner=session_owner())
    if classroom_mode():
        store = RunStore()
        needed = [run.dataset for status in ("queued", "running") for run in store.list_runs(status=status)
                  if run.dataset]
        max_age = _env_number(UPLOAD_AGE_VARIABLE, UPLOAD_AGE_DEFAULT_DAYS, float) * 24 * 3600
        remove_old_uploads(max_age, keep=[path, *needed])
    return path


def session_uploads() -> dict[str, str]:
    """This session's uploaded datasets, spec -> file name (for a select box)."""
    from sslcore.data.uploads import uploaded_datasets

    return {str(path): path.name for path in uploaded_datasets(session_owner())}
