"""Classroom mode: private workspaces per browser session, queue limits, uploads only, and errors as
one sentence. Each AppTest is one browser session; its workspace token is set in its session state."""

import pytest
from streamlit.testing.v1 import AppTest

from pages.common import LOG, OWNER_STATE
from sslcore.experiments.presets import preset
from sslcore.paths import PROJECT_ROOT
from sslcore.runs import RunStore

ALICE, BOB = "alice-workspace-0001", "bob-workspace-00002"


@pytest.fixture
def classroom(monkeypatch):
    monkeypatch.setenv("MEDSSL_CLASSROOM", "1")
    monkeypatch.setenv("MEDSSL_TEACHER_KEY", "correct horse")
    monkeypatch.setenv("MEDSSL_MAX_QUEUED_PER_SESSION", "2")


@pytest.fixture
def worker_starts(monkeypatch):
    calls = []
    monkeypatch.setattr("sslcore.runs.ensure_worker", lambda *args, **kwargs: calls.append(args) or 0)
    return calls


def session(script: str, owner: str | None = None) -> AppTest:
    page = AppTest.from_file(str(PROJECT_ROOT / script), default_timeout=60)
    if owner is not None:
        page.session_state[OWNER_STATE] = owner
    return page.run()


def queued(name: str, owner: str | None) -> int:
    return RunStore().create_run("experiment", preset("cpu-quick").to_dict(), name=name, owner=owner)


def listed(page) -> set[str]:
    return set(page.dataframe[0].value["name"])


def test_two_sessions_see_and_cancel_only_their_own_runs(classroom):
    alices, bobs = queued("alice's run", ALICE), queued("bob's run", BOB)
    queued("from the shell", None)
    alice, bob = session("pages/runs.py", ALICE), session("pages/runs.py", BOB)
    assert listed(alice) == {"alice's run"} and listed(bob) == {"bob's run"}
    assert list(alice.multiselect[0].options) == [f"#{alices} alice's run"]
    alice.multiselect[0].select(alices).run()
    next(button for button in alice.button if button.label == "Cancel 1 run(s)").click().run()
    assert RunStore().get(alices).status == "cancelled" and RunStore().get(bobs).status == "queued"
    assert "No runs yet" in session("pages/runs.py", "carol-workspace-003").info[0].value


def test_the_teacher_key_shows_every_run(classroom):
    queued("alice's run", ALICE), queued("bob's run", BOB)
    teacher = session("pages/runs.py", "teacher-workspace-01")
    assert "No runs yet" in teacher.info[0].value
    teacher.text_input(key="medssl_teacher_key").input("wrong").run()
    assert teacher.error[0].value == "That is not the teacher key."
    teacher.text_input(key="medssl_teacher_key").input("correct horse").run()
    assert listed(teacher) == {"alice's run", "bob's run"}


def test_outside_classroom_mode_every_run_is_listed_and_there_is_no_teacher_box():
    queued("alice's run", ALICE), queued("mine", None)
    page = session("pages/runs.py")
    assert listed(page) == {"alice's run", "mine"} and not page.text_input


def test_a_new_session_gets_a_workspace_kept_in_the_address(classroom):
    page = session("app.py")  # the home page, through the navigation
    token = page.session_state[OWNER_STATE]
    assert len(token) >= 16 and page.query_params["workspace"] == token
    assert "Classroom mode" in page.info[0].value
    reloaded = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    reloaded.query_params["workspace"] = token
    assert reloaded.run().session_state[OWNER_STATE] == token


def queue_script():
    import streamlit as st

    from pages.common import queue_experiment, show_error
    from sslcore.runs import RunStore

    for values in st.session_state["configs"]:
        try:
            st.write(f"queued {queue_experiment(RunStore(), values, 'run')}")
        except ValueError as error:
            show_error(error, "queueing")


def queue_as(owner: str, configs: list) -> AppTest:
    page = AppTest.from_function(queue_script, default_timeout=60)
    page.session_state[OWNER_STATE] = owner
    page.session_state["configs"] = configs
    return page.run()


def test_a_session_may_queue_two_runs_and_the_next_is_refused_in_one_sentence(classroom, worker_starts):
    page = queue_as(ALICE, [preset("cpu-quick").to_dict()] * 3)
    assert [error.value for error in page.error] == [
        "You already have 2 runs waiting or running (a comparison counts as one), the most one session may have; "
        "wait for one to finish or cancel one."]
    assert [run.owner for run in RunStore().list_runs()] == [ALICE, ALICE] and len(worker_starts) == 2
    assert not queue_as(BOB, [preset("cpu-quick").to_dict()]).error  # another session has its own allowance


@pytest.mark.parametrize("override, sentence", [
    ({"epochs": "ten"}, "epochs must be a whole number from 1 to 1,000, got 'ten'."),
    ({"epochs": 10**9}, "epochs must be a whole number from 1 to 1,000, got 1000000000."),
    ({"image_size": 10**5}, "image_size must be a whole number from 8 to 512, got 100000."),
    ({"dataset": "/etc"}, "In classroom mode a run reads the built-in datasets or your own uploads only."),
])
def test_settings_that_cannot_run_are_one_sentence_and_queue_nothing(classroom, worker_starts, override, sentence):
    page = queue_as(ALICE, [{**preset("cpu-quick").to_dict(), **override}])
    assert [error.value for error in page.error] == [sentence]
    assert RunStore().list_runs() == [] and not worker_starts


def upload_script():
    import io

    import numpy as np
    import streamlit as st

    from pages.common import save_session_upload, session_uploads, server_paths_allowed

    class Upload:  # what st.file_uploader returns, as far as the pages use it
        name = "scans.npz"

        def getvalue(self):
            buffer = io.BytesIO()
            np.savez(buffer, **{f"{split}_{kind}": np.full((4, 28, 28) if kind == "images" else (4, 1),
                                                             st.session_state["fill"], np.uint8)
                                for split in ("train", "val", "test") for kind in ("images", "labels")})
            return buffer.getvalue()

    st.session_state["saved"] = str(save_session_upload(Upload()))
    st.session_state["listed"] = session_uploads()
    st.session_state["server_paths"] = server_paths_allowed()


def upload_as(owner: str, fill: int) -> AppTest:
    page = AppTest.from_function(upload_script, default_timeout=60)
    page.session_state[OWNER_STATE] = owner
    page.session_state["fill"] = fill
    return page.run()


def test_uploads_are_per_session_and_never_overwrite(classroom):
    alice, bob = upload_as(ALICE, 1), upload_as(BOB, 2)
    assert not alice.exception and alice.session_state["server_paths"] is False
    alices, bobs = alice.session_state["saved"], bob.session_state["saved"]
    assert alices != bobs and list(alice.session_state["listed"]) == [alices]
    assert list(bob.session_state["listed"]) == [bobs]
    again = upload_as(ALICE, 3)  # the same file name, new content: a new file beside the first
    assert again.session_state["saved"] != alices and len(again.session_state["listed"]) == 2
    import numpy as np

    with np.load(alices) as first:
        assert int(first["train_images"][0, 0, 0]) == 1


def test_an_error_a_page_does_not_handle_is_one_sentence(monkeypatch, caplog):
    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(LOG, "propagate", True)  # so that caplog sees the server log
    monkeypatch.setattr("pages.common.classroom_mode", out_of_memory)  # the home page asks it first
    page = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60).run()
    assert not page.exception
    assert [error.value for error in page.error] == [
        "The server ran out of memory for this; try fewer images, a smaller image size or a smaller batch."]
    logged = [record.exc_info[0] for record in caplog.records if record.name == "medssl.app"]
    assert logged and set(logged) == {MemoryError}  # the traceback, for whoever runs the app, in the server log


def live_script():
    import streamlit as st

    from pages.common import current_run, friendly_errors
    from sslcore.runs import RunStore

    store = RunStore()

    @st.fragment
    @friendly_errors
    def live(run_id):
        run = current_run(store, run_id)
        if run is not None:
            st.text(run.state)
            st.text(len(store.metrics(run_id)))  # deleted between the two reads

    live(st.session_state["run_id"])
    st.text("the rest of the page")


def test_a_run_deleted_under_the_live_view_is_one_sentence(monkeypatch):
    run_id = queued("short-lived", None)
    page = AppTest.from_function(live_script, default_timeout=60)
    page.session_state["run_id"] = run_id
    assert [text.value for text in page.run().text] == ["queued", "0", "the rest of the page"]
    RunStore().delete(run_id)
    page.run()
    assert page.info[0].value == f"Run #{run_id} no longer exists: it was deleted."
    original = RunStore.get
    run = original(RunStore(), queued("deleted later", None))
    monkeypatch.setattr(RunStore, "get", lambda self, run_id: run)  # found, then gone for metrics
    RunStore().delete(run.id)
    page.session_state["run_id"] = run.id
    page.run()
    assert not page.exception and [error.value for error in page.error] == [
        "This run no longer exists: it was deleted."]
    assert page.text[-1].value == "the rest of the page"
