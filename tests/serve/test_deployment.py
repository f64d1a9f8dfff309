"""Swapping models under load, two models side by side on shares of users, and the loop closed:
logged traffic exported, a model trained on it from the served one, swapped in."""

import json
import os
import shutil
import threading

import numpy as np
import pytest
import torch
from sqlalchemy import update
from typer.testing import CliRunner

from newsrec.cli.main import app
from newsrec.data.behaviors import read_behaviors
from newsrec.data.mind import read_news
from newsrec.encoders.cache import EmbeddingCache
from newsrec.models.ranker import model_version
from newsrec.service.deployment import ArmSpec, arm_specs, user_point
from newsrec.store import feeds
from newsrec.store.models import NewsRow
from newsrec.training.config import load_config
from newsrec.training.recipe import train
from tests.conftest import wait_until
from tests.serve.conftest import ADMIN_KEY, NEWS_KEY, USER_KEY, make_client, news_items


@pytest.fixture(scope="module")
def second_model(tiny_world, tmp_path_factory):
    out = tmp_path_factory.mktemp("second-model")
    train(
        load_config(epochs=2, user_encoder="nrms", seed=7),
        read_news(tiny_world),
        read_behaviors(tiny_world / "train"),
        out,
        cache=EmbeddingCache(),
    )
    return out


def served(client, user="u"):
    r = client.get(f"/v1/users/{user}/recommendations?k=5", headers=USER_KEY)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_swap_under_load_drops_no_request_and_every_worker_follows(model_dir, second_model, tmp_path):
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    a, b = make_client(model_dir, db, tmp_path), make_client(model_dir, db, tmp_path)
    with a, b:
        a.post("/v1/news", json={"items": news_items(20)}, headers=NEWS_KEY)
        old, new = model_version(model_dir), model_version(second_model)
        assert served(b)["model_version"] == old
        failures, versions, stop = [], set(), threading.Event()

        def load(client, user):
            while not stop.is_set():
                r = client.get(f"/v1/users/{user}/recommendations?k=5", headers=USER_KEY)
                if r.status_code != 200 or len(r.json()["items"]) != 5:
                    failures.append(r.status_code)
                else:
                    versions.add(r.json()["model_version"])

        threads = [threading.Thread(target=load, args=(c, f"reader{i}")) for i, c in enumerate([a, b, a, b])]
        for t in threads:
            t.start()
        r = a.post("/v1/admin/model", json={"model_dir": str(second_model)}, headers=ADMIN_KEY)
        assert r.status_code == 202 and r.json()["arms"][0]["version"] in (old, new)
        try:
            wait_until(
                lambda: served(a)["model_version"] == new and served(b)["model_version"] == new,
                60,
                "both workers to serve the new model",
                every=0.1,
            )
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        assert failures == [] and versions == {old, new}
        assert b.get("/v1/admin/model", headers=ADMIN_KEY).json() == {
            "arms": [{"model_dir": str(second_model), "version": new, "share": 1.0}],
            "loading": False,
            "problem": None,
        }


def test_two_models_side_by_side_split_users_stably_and_are_compared(model_dir, second_model, tmp_path):
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with make_client(model_dir, db, tmp_path) as client:
        client.post("/v1/news", json={"items": news_items(20)}, headers=NEWS_KEY)
        old, new = model_version(model_dir), model_version(second_model)
        assert (
            client.post(
                "/v1/admin/model", json={"model_dir": str(model_dir), "share": 0.5}, headers=ADMIN_KEY
            ).status_code
            == 409
        )  # the model already serving
        assert (
            client.post(
                "/v1/admin/model", json={"model_dir": str(tmp_path / "none"), "share": 0.5}, headers=ADMIN_KEY
            ).status_code
            == 404
        )
        assert (
            client.post(
                "/v1/admin/model", json={"model_dir": str(second_model), "share": 0.5}, headers=ADMIN_KEY
            ).status_code
            == 202
        )
        wait_until(
            lambda: len(client.get("/v1/admin/model", headers=ADMIN_KEY).json()["arms"]) == 2,
            60,
            "the two models to serve side by side",
            every=0.1,
        )
        users = [f"user{i}" for i in range(40)]
        clicks_label = f'newsrec_clicks_total{{place="1-5",version="{new}"}}'
        impressions_label = f'newsrec_impressions_total{{version="{old}"}}'
        before = client.get("/metrics").text  # the counters are the process's: other tests add to them
        for user in users:
            answer = served(client, user)
            assert answer["model_version"] == (old if user_point(user) < 0.5 else new)
            assert served(client, user)["model_version"] == answer["model_version"]  # stable per user
            shown = [i["news_id"] for i in answer["items"]]
            body = {"impressions": [{"impression_id": answer["impression_id"], "user_id": user, "news_ids": shown}]}
            client.post("/v1/impressions", json=body, headers=USER_KEY)
            if answer["model_version"] == new:  # the new model's readers click its first item
                event = {
                    "event_id": f"c-{user}",
                    "user_id": user,
                    "news_id": shown[0],
                    "type": "click",
                    "impression_id": answer["impression_id"],
                }
                client.post("/v1/events", json={"events": [event]}, headers=USER_KEY)
        metrics = client.get("/metrics").text
        readers_of_new = sum(user_point(u) >= 0.5 for u in users)
        assert counter(metrics, clicks_label) - counter(before, clicks_label) == readers_of_new
        assert counter(metrics, impressions_label) - counter(before, impressions_label) == len(users) - readers_of_new
    report = CliRunner().invoke(app, ["report", "--db", db, "--json"])
    assert report.exit_code == 0, report.output
    rows = {r["version"]: r for r in json.loads(report.stdout)}
    assert rows[new]["clicks"] == readers_of_new and rows[new]["ctr@5"] == 1.0
    assert rows[old]["clicks"] == 0 and rows[old]["impressions"] == len(users) - readers_of_new


def test_logged_traffic_exports_retrains_from_the_served_model_and_swaps_in(model_dir, tiny_world, tmp_path):
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    news = read_news(tiny_world)
    with make_client(model_dir, db, tmp_path) as client:
        items = [{"id": n.news_id, "title": n.title, "category": n.category} for n in list(news.values())[:60]]
        client.post("/v1/news", json={"items": items}, headers=NEWS_KEY)
        for i in range(30):  # readers see lists and click in them
            user = f"reader{i % 10}"
            answer = served(client, user)
            shown = [x["news_id"] for x in answer["items"]]
            client.post(
                "/v1/impressions",
                json={"impressions": [{"impression_id": answer["impression_id"], "user_id": user, "news_ids": shown}]},
                headers=USER_KEY,
            )
            client.post(
                "/v1/events",
                json={
                    "events": [
                        {
                            "event_id": f"e{i}",
                            "user_id": user,
                            "news_id": shown[i % 5],
                            "type": "click",
                            "impression_id": answer["impression_id"],
                        }
                    ]
                },
                headers=USER_KEY,
            )
        runner = CliRunner()
        exported = runner.invoke(app, ["export", "--db", db, "--out", str(tmp_path / "logged")])
        assert exported.exit_code == 0 and "30 impressions (30 clicks)" in exported.output, exported.output
        logged = read_behaviors(tmp_path / "logged")
        assert len(logged) == 30 and all(sum(i.labels) == 1 for i in logged) and logged[-1].history
        logged_dir = tmp_path / "logged"

        def retrain(out: str, user_encoder: str):
            args = [
                "train",
                "--init",
                str(model_dir),
                "--news",
                str(logged_dir),
                "--behaviors",
                str(logged_dir),
                "--out",
                str(tmp_path / out),
                "--epochs",
                "1",
                "--user-encoder",
                user_encoder,
            ]
            return runner.invoke(app, args)

        retrained = retrain("m2", "mean")
        assert retrained.exit_code == 0, retrained.output
        assert (
            client.post("/v1/admin/model", json={"model_dir": str(tmp_path / "m2")}, headers=ADMIN_KEY).status_code
            == 202
        )
        retrained_version = model_version(tmp_path / "m2")
        wait_until(lambda: served(client)["model_version"] == retrained_version, 60, "the retrained model", every=0.1)
        bad = retrain("m3", "nrms")  # the served model has a mean user encoder
        assert bad.exit_code == 2 and "other encoder or recommender settings" in bad.output


def test_model_folders_that_cannot_be_read_are_a_404_not_a_500(model_dir, tmp_path):
    with make_client(model_dir, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path) as client:
        for folder in ("0" * 1000, str(tmp_path / ("0" * 250)), str(tmp_path / "missing")):  # relative: under cwd
            r = client.post("/v1/admin/model", json={"model_dir": folder}, headers=ADMIN_KEY)
            assert r.status_code == 404 and len(r.text) < 500, folder


def test_deployments_come_only_from_the_allowed_folders_and_are_recorded_by_their_real_path(model_dir, tmp_path):
    inside = copy_of(model_dir, tmp_path / "inside", 1e-3)
    (tmp_path / "link").symlink_to(inside)
    (tmp_path / "escape").symlink_to("/proc/self")  # a link under the root pointing out of it
    with make_client(model_dir, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path) as client:
        client.post("/v1/news", json={"items": news_items(5)}, headers=NEWS_KEY)
        for folder in ("/proc/self/fd/0/x", "/etc", str(tmp_path / "escape")):
            r = client.post("/v1/admin/model", json={"model_dir": folder}, headers=ADMIN_KEY)
            assert r.status_code == 403 and "NEWSREC_DEPLOY_ROOTS" in r.json()["detail"], folder
        r = client.post("/v1/admin/model", json={"model_dir": str(tmp_path / "link")}, headers=ADMIN_KEY)
        assert r.status_code == 202
        assert deployments(client)[-1][0].model_dir == str(inside.resolve())


def counter(metrics: str, label: str) -> float:
    """The value of one series in a /metrics text (0 while it does not exist)."""
    line = next((line for line in metrics.splitlines() if line.startswith(label + " ")), None)
    return float(line.split()[-1]) if line else 0.0


def copy_of(model_dir, to, nudge: float = 0.0):
    """Another folder holding the same model, or with `nudge` added to its weights (another version)."""
    shutil.copytree(model_dir, to)
    if nudge:
        saved = torch.load(to / "model.pt", weights_only=True)
        saved["recommender"] = {k: v + nudge if v.is_floating_point() else v for k, v in saved["recommender"].items()}
        torch.save(saved, to / "model.pt")
    return to


def deployments(client):
    with client.app.state.service.sessions() as session:
        return [arm_specs(row.arms) for row in feeds.rows_since(session, "deployments", 0, 1000)]


def test_a_model_that_cannot_serve_is_refused_and_nothing_is_deployed(model_dir, tmp_path):
    broken = copy_of(model_dir, tmp_path / "broken")
    (broken / "model.pt").write_bytes(os.urandom(1000))  # not a model: what took the service down
    renamed = copy_of(model_dir, tmp_path / "renamed")
    with make_client(model_dir, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path) as client:
        client.post("/v1/news", json={"items": news_items(5)}, headers=NEWS_KEY)
        r = client.post("/v1/admin/model", json={"model_dir": str(broken)}, headers=ADMIN_KEY)
        assert r.status_code == 422 and "does not load as a newsrec model" in r.json()["detail"]
        with client.app.state.service.sessions.begin() as session:  # stored vectors unlike the model's own
            session.execute(update(NewsRow).values(vector=np.ones(384, np.float32).tobytes()))
        r = client.post("/v1/admin/model", json={"model_dir": str(renamed)}, headers=ADMIN_KEY)
        assert r.status_code == 422 and "differ from the vectors it computes" in r.json()["detail"]
        assert deployments(client) == []
        assert client.get("/v1/admin/model", headers=ADMIN_KEY).json()["arms"][0]["model_dir"] == str(model_dir)
        assert served(client)["model_version"] == model_version(model_dir)


def test_a_deployment_that_breaks_later_stops_no_worker_from_starting(model_dir, tmp_path):
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    first, second = copy_of(model_dir, tmp_path / "first", 1e-3), copy_of(model_dir, tmp_path / "second", 2e-3)
    with make_client(model_dir, db, tmp_path) as a:
        a.post("/v1/news", json={"items": news_items(5)}, headers=NEWS_KEY)
        for folder in (first, second):
            assert a.post("/v1/admin/model", json={"model_dir": str(folder)}, headers=ADMIN_KEY).status_code == 202
            wait_until(
                lambda f=folder: a.get("/v1/admin/model", headers=ADMIN_KEY).json()["arms"][0]["model_dir"] == str(f),
                60,
                f"{folder.name} to serve",
                every=0.1,
            )
    (second / "model.pt").write_bytes(os.urandom(1000))  # broken after it was deployed
    # a worker started later on a machine without copies of the deployed folders (on this one it
    # would serve its copy of `second`, whatever became of the folder: test_deployment_copies.py)
    with make_client(model_dir, db, tmp_path, snapshot_dir=tmp_path / "machine-b") as b:
        served_now = b.get("/v1/admin/model", headers=ADMIN_KEY).json()
        assert served_now["arms"][0]["model_dir"] == str(first)  # the newest deployment that loads
        assert "does not load here" in served_now["problem"]
        ready = b.get("/ready").json()  # still ready (it serves), and it says it lags behind
        assert ready["status"] == "ready" and "does not load here" in ready["deployment_problem"]
        assert ready["serving"] == [model_version(first)]
        assert len(served(b)["items"]) == 5
    shutil.rmtree(first)  # every deployment gone: the model the worker was started with
    with make_client(model_dir, db, tmp_path, snapshot_dir=tmp_path / "machine-c") as c:
        assert c.get("/v1/admin/model", headers=ADMIN_KEY).json()["arms"][0]["model_dir"] == str(model_dir)
        assert len(served(c)["items"]) == 5


def test_a_model_that_overflows_only_for_items_with_clicks_is_refused(model_dir, tmp_path):
    """Popularity weights of 1e38 score new items fine and every clicked item `inf`: the probe
    gives the model traffic, so the deployment is refused before it serves."""
    huge = copy_of(model_dir, tmp_path / "huge")
    saved = torch.load(huge / "model.pt", weights_only=True)
    saved["recommender"] = {
        k: torch.full_like(v, 1e38) if k.startswith("popularity.") and k.endswith(".weight") else v
        for k, v in saved["recommender"].items()
    }
    torch.save(saved, huge / "model.pt")
    with make_client(model_dir, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path) as client:
        client.post("/v1/news", json={"items": news_items(5)}, headers=NEWS_KEY)
        r = client.post("/v1/admin/model", json={"model_dir": str(huge)}, headers=ADMIN_KEY)
        assert r.status_code == 422 and "not numbers" in r.json()["detail"]
        assert deployments(client) == []


def test_a_slow_older_deployment_never_replaces_a_newer_one(model_dir, tmp_path):
    """One loader per worker: deployment A loads slowly, B is recorded meanwhile; the worker ends
    on B (two loaders swapped in whichever finished last: A)."""
    older, newer = copy_of(model_dir, tmp_path / "older", 1e-3), copy_of(model_dir, tmp_path / "newer", 2e-3)
    with make_client(model_dir, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path) as client:
        client.post("/v1/news", json={"items": news_items(5)}, headers=NEWS_KEY)
        worker = client.app.state.service.deployments
        build, release = worker._build, threading.Event()

        def slow_for_older(specs):
            if specs[0].model_dir == str(older):
                release.wait(60)
            return build(specs)

        worker._build = slow_for_older
        spec = {folder: ArmSpec(str(folder), model_version(folder), 1.0) for folder in (older, newer)}
        with client.app.state.service.lock:
            worker.follow([[spec[older]]])
            worker.follow([[spec[newer]]])
        release.set()
        wait_until(lambda: not worker.loading.is_alive(), 60, "the loader to finish", every=0.1)
        assert [arm.version for arm in worker.arms] == [model_version(newer)] and worker.problem is None
