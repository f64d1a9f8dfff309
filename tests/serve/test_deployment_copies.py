"""One model per deployment: workers serve this machine's copy of a deployed folder, named by the
digest of its files, so what is written to the folder after the deployment changes nothing; a
machine without the copy makes its own and refuses a folder that changed. Models that declare
absurd sizes, or hold weights of other shapes, are refused with a 422 that says why."""

import json
import os
import signal
import stat
import threading
import time
from functools import partial
from pathlib import Path

import httpx
import pytest
import torch

from newsrec.models.ranker import model_version
from newsrec.service import deployment_copies
from newsrec.service.deployment_copies import DeploymentError, ModelCopies
from tests.conftest import wait_until
from tests.serve.conftest import ADMIN_KEY, NEWS_KEY, NO_LIMITS, USER_KEY, Server, make_client, news_items
from tests.serve.test_deployment import copy_of, deployments, served


def serving(client) -> dict:
    return client.get("/v1/admin/model", headers=ADMIN_KEY).json()


def test_a_model_written_over_after_its_deployment_changes_nothing_on_this_machine(model_dir, tmp_path):
    db, machine = f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "machine"
    folder, other = copy_of(model_dir, tmp_path / "next", 1e-3), copy_of(model_dir, tmp_path / "other", 2e-3)
    deployed = model_version(folder)
    with make_client(model_dir, db, tmp_path, snapshot_dir=machine) as a:
        a.post("/v1/news", json={"items": news_items(5)}, headers=NEWS_KEY)
        assert a.post("/v1/admin/model", json={"model_dir": str(folder)}, headers=ADMIN_KEY).status_code == 202
        (folder / "model.pt").write_bytes((other / "model.pt").read_bytes())  # another model, after the 202
        wait_until(lambda: served(a)["model_version"] == deployed, 60, "the deployment to serve", every=0.1)
        with make_client(model_dir, db, tmp_path, snapshot_dir=machine) as b:  # a worker started after the write
            assert served(b)["model_version"] == deployed and serving(b)["problem"] is None
        [[arm]] = deployments(a)
        copy = machine / "deployments" / arm.digest
        assert arm.model_dir == str(folder) and model_version(copy) == deployed  # the deployed bytes, kept
        assert all(not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) for path in copy.iterdir())
    with make_client(model_dir, db, tmp_path, snapshot_dir=tmp_path / "another-machine") as c:  # no copy there
        assert served(c)["model_version"] == model_version(model_dir)  # it keeps the model it started with
        assert "changed since it was deployed" in serving(c)["problem"]


def model_folder(at, model_pt: bytes = b"weights", max_history: int = 50):
    """The files `Ranker.load` reads, as bytes only (copies never read them as a model), and one it does not."""
    at.mkdir()
    (at / "model.pt").write_bytes(model_pt)
    (at / "model.json").write_text(json.dumps({"max_history": max_history}))
    (at / "popularity.json").write_text("{}")
    (at / "checkpoint.pt").write_bytes(b"optimizer state: not copied")
    return at


def test_a_copy_is_named_by_its_files_and_refused_when_the_folder_changed(tmp_path):
    folder = model_folder(tmp_path / "model")
    version, here = model_version(folder), ModelCopies(tmp_path / "here")
    copy = here.copy(str(folder))
    assert sorted(p.name for p in copy.iterdir()) == ["model.json", "model.pt", "popularity.json"]
    assert [p.name for p in here.root.iterdir()] == [copy.name]  # no temporary folder left
    (folder / "model.json").write_text(json.dumps({"max_history": 10}))  # same weights, other settings
    assert here.copy(str(folder), version, copy.name) == copy  # this machine has it: the folder is not read
    assert json.loads((copy / "model.json").read_text()) == {"max_history": 50}
    elsewhere = ModelCopies(tmp_path / "elsewhere")  # another machine, which has no copy yet
    with pytest.raises(DeploymentError, match="changed since it was deployed"):
        elsewhere.copy(str(folder), version, copy.name)  # its model.json changed
    (folder / "model.pt").write_bytes(b"other weights")
    with pytest.raises(DeploymentError, match="changed since it was deployed"):
        elsewhere.copy(str(folder), version)  # a deployment recorded before copies: its weights' version only
    assert list(elsewhere.root.iterdir()) == []  # nothing half made is left


def test_workers_copying_one_folder_at_once_share_one_copy(tmp_path):
    folder = model_folder(tmp_path / "model", model_pt=b"w" * 3_000_000)
    copies, made, start = ModelCopies(tmp_path / "machine"), [], threading.Barrier(4)

    def copy() -> None:
        start.wait()
        made.append(copies.copy(str(folder), model_version(folder)))

    threads = [threading.Thread(target=copy) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(made) == 4 and len(set(made)) == 1 and list(copies.root.iterdir()) == [made[0]]
    assert (made[0] / "model.pt").read_bytes() == b"w" * 3_000_000


def test_models_of_absurd_sizes_or_other_shapes_are_refused_with_a_422(model_dir, tmp_path):
    absurd = copy_of(model_dir, tmp_path / "absurd")
    spec = json.loads((absurd / "model.json").read_text())
    (absurd / "model.json").write_text(json.dumps({**spec, "max_history": 10**9}))
    reshaped = copy_of(model_dir, tmp_path / "reshaped")
    saved = torch.load(reshaped / "model.pt", weights_only=True)
    saved["recommender"]["towers.0.bilinear_delta"] = torch.zeros(8, 8)
    torch.save(saved, reshaped / "model.pt")
    with make_client(model_dir, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path) as client:
        client.post("/v1/news", json={"items": news_items(5)}, headers=NEWS_KEY)
        r = client.post("/v1/admin/model", json={"model_dir": str(absurd)}, headers=ADMIN_KEY)
        assert r.status_code == 422 and "max_history" in r.json()["detail"], r.text
        assert f"{absurd}/model.json" in r.json()["detail"]  # the folder deployed, not this machine's copy of it
        r = client.post("/v1/admin/model", json={"model_dir": str(reshaped)}, headers=ADMIN_KEY)
        assert r.status_code == 422 and "does not fit" in r.json()["detail"], r.text
        assert "bilinear_delta" in r.json()["detail"]
        assert deployments(client) == []


def aged(folder: Path, seconds: float = 2 * deployment_copies.GRACE_SECONDS) -> Path:
    """`folder` as if made or last taken `seconds` ago."""
    then = time.time() - seconds
    os.utime(folder, (then, then))
    return folder


def test_old_copies_go_once_no_deployment_names_them_and_no_worker_uses_them(tmp_path):
    root = tmp_path / "machine"
    one, two = ModelCopies(root), ModelCopies(root)  # two workers of one machine (each its own locks)
    old = aged(one.copy(str(model_folder(tmp_path / "a", b"A"))))
    new = two.copy(str(model_folder(tmp_path / "b", b"B")))
    assert two.collect({new.name}) == [] and old.is_dir()  # `one` still serves it (or is loading it)
    one.copy(str(tmp_path / "b"), digest=new.name)
    one.serving({new.name})  # `one` swapped to the new deployment
    assert two.collect({new.name}) == [old.name] and not old.exists() and new.is_dir()
    one.serving(set())
    two.serving(set())
    aged(new)
    assert one.collect({new.name}) == [] and new.is_dir()  # what the newest deployment names stays
    assert one.collect(set()) == [new.name] and list(root.iterdir()) == []
    again = one.copy(str(tmp_path / "b"), digest=new.name)  # collected, and needed again: copied anew, checked
    assert again == new and (again / "model.pt").read_bytes() == b"B"


def test_a_copy_just_made_or_in_the_making_is_not_collected(tmp_path):
    root = tmp_path / "machine"
    copies = ModelCopies(root)
    fresh = copies.copy(str(model_folder(tmp_path / "a", b"A")))
    copies.serving(set())  # nobody holds it: a request proving it, whose loader takes it a moment later
    assert copies.collect(set()) == [] and fresh.is_dir()  # within the grace period
    killed = root / f"{deployment_copies.COPYING}killed"  # what a copier killed half way left
    killed.mkdir()
    aged(killed)
    assert copies.collect({fresh.name}) == [killed.name] and not killed.exists()


def test_a_worker_swapping_models_removes_the_copies_no_one_serves_any_more(model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(deployment_copies, "GRACE_SECONDS", 0.0)
    db, machine = f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "machine"
    first, second = copy_of(model_dir, tmp_path / "first", 1e-3), copy_of(model_dir, tmp_path / "second", 2e-3)
    a, b = (make_client(model_dir, db, tmp_path, snapshot_dir=machine) for _ in range(2))

    def both_serve(folder: Path) -> bool:
        return {served(w)["model_version"] for w in (a, b)} == {model_version(folder)}

    with a, b:  # two workers of one machine
        a.post("/v1/news", json={"items": news_items(5)}, headers=NEWS_KEY)
        for folder in (first, second):
            assert a.post("/v1/admin/model", json={"model_dir": str(folder)}, headers=ADMIN_KEY).status_code == 202
            wait_until(partial(both_serve, folder), 60, "both workers to serve it", every=0.1)
        [[arm]] = deployments(a)[-1:]

        def copies() -> set[str]:
            return {p.name for p in (machine / "deployments").iterdir()}

        wait_until(lambda: copies() == {arm.digest}, 30, "the other copies to go", every=0.1)


def test_the_start_up_model_is_served_from_the_copy_made_when_the_service_started(model_dir, tmp_path):
    folder, machine = copy_of(model_dir, tmp_path / "model"), tmp_path / "machine"
    started, db = model_version(folder), f"sqlite:///{tmp_path / 'db.sqlite'}"
    start = ModelCopies.of_machine(machine).copy(str(folder))  # what `newsrec serve` does before its workers start
    with make_client(folder, db, tmp_path, snapshot_dir=machine, model_digest=start.name) as a:
        (folder / "model.pt").write_bytes((copy_of(model_dir, tmp_path / "other", 1e-3) / "model.pt").read_bytes())
        with make_client(folder, db, tmp_path, snapshot_dir=machine, model_digest=start.name) as b:  # started after
            assert served(a)["model_version"] == served(b)["model_version"] == started
            assert b.get("/v1/admin/model", headers=ADMIN_KEY).json()["problem"] is None


@pytest.mark.slow
def test_the_start_up_model_written_over_changes_no_worker_also_one_started_later(model_dir, tmp_path):
    """`newsrec serve --model DIR`: a worker that replaces a killed one serves the model DIR held
    when the service started, not what was written there since (before: the new weights)."""
    folder, other = copy_of(model_dir, tmp_path / "model"), copy_of(model_dir, tmp_path / "other", 1e-3)
    started = model_version(folder)
    env = {**NO_LIMITS, "NEWSREC_SNAPSHOT_DIR": str(tmp_path / "machine")}
    with Server(folder, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "server.log", workers=2, env=env) as server:
        httpx.post(f"{server.url}/v1/news", json={"items": news_items(5)}, headers=NEWS_KEY)
        (folder / "model.pt").write_bytes((other / "model.pt").read_bytes())
        os.kill(server.workers()[0], signal.SIGKILL)
        startup = "Application startup complete"
        wait_until(lambda: server.said().count(startup) >= 3, 90, "the replacement worker to start", 0.5)
        versions = {  # new connections: answered by both workers
            httpx.get(f"{server.url}/v1/users/u{i}/recommendations", headers=USER_KEY).json()["model_version"]
            for i in range(20)
        }
        assert versions == {started}
