"""The click-to-changed-list path in one process: POST one click, then GET recommendations.

`bench/service_load.py` measures the same through two worker processes on loopback; this one
runs the app in-process (`TestClient`, no sockets, one worker) so a difference between two
trees can be told apart from process-level effects. Run it once per tree, alternating:

    PYTHONPATH=<tree> python bench/click_path.py --model runs/mind --pool 20000

Prints the medians of the POST, of the GET after it, and of both.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient
from service_load import HEADERS, KEY, seed_pool, vector_id

from newsrec.serve.app import create_app
from newsrec.serve.settings import ServiceSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--pool", type=int, default=20_000)
    parser.add_argument("--trials", type=int, default=300)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    url = f"sqlite:///{work}/service.sqlite"
    seed_pool(url, args.pool, vector_id(args.model), users=200)
    unlimited = "1000000/minute"  # one client on one address is the point here
    os.environ.update({"NEWSREC_API_KEYS": f"{KEY}:admin", "NEWSREC_RATE_LIMIT": unlimited})
    os.environ["NEWSREC_KEY_RATE_LIMIT"] = unlimited
    settings = ServiceSettings(model_dir=args.model, db_url=url, snapshot_dir=work / "snapshots", log_file=work / "log")
    post, get = [], []
    with TestClient(create_app(settings)) as client:
        for u in range(50):  # warm-up
            client.get(f"/v1/users/user{u}/recommendations?k=10", headers=HEADERS)
        for i in range(args.trials):
            user = f"clicker{i}"
            top = client.get(f"/v1/users/{user}/recommendations?k=10", headers=HEADERS).json()["items"]
            click = {"event_id": f"click-{i}", "user_id": user, "news_id": top[0]["news_id"], "type": "click"}
            started = time.perf_counter()
            client.post("/v1/events", json={"events": [click]}, headers=HEADERS).raise_for_status()
            posted = time.perf_counter()
            after = client.get(f"/v1/users/{user}/recommendations?k=10", headers=HEADERS).json()["items"]
            get.append(time.perf_counter() - posted)
            post.append(posted - started)
            assert top[0]["news_id"] not in [item["news_id"] for item in after], "the click did not change the list"

    def median_ms(seconds: list[float]) -> str:
        return f"{1000 * statistics.median(seconds):.2f} ms"

    both = [p + g for p, g in zip(post, get)]
    figures = f"POST {median_ms(post)}, GET after {median_ms(get)}, both {median_ms(both)}"
    print(f"{args.pool:,} news, {args.trials} trials: {figures}")


if __name__ == "__main__":
    main()
