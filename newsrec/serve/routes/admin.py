"""/v1/admin/model: which models serve, and swapping or comparing them without a restart."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request, status

from newsrec.serve.deps import Service, require_scope
from newsrec.serve.errors import CONFLICT_RESPONSE, ERROR_RESPONSES, described
from newsrec.serve.ops_schemas import DeployIn, Deployment, ServedArm
from newsrec.service.deployment import DeploymentError

router = APIRouter(
    prefix="/v1/admin", tags=["admin"], responses=ERROR_RESPONSES, dependencies=[Depends(require_scope("admin"))]
)


def _serving(svc: Service) -> Deployment:
    arms = [ServedArm(model_dir=a.spec.model_dir, version=a.version, share=a.spec.share) for a in svc.arms]
    return Deployment(
        arms=arms,
        loading=bool(svc.deployments.loading and svc.deployments.loading.is_alive()),
        problem=svc.deployments.problem,
    )


def _allowed(model_dir: str, roots: list[Path]) -> Path:
    """`model_dir` as its real path (links resolved), if it lies under one of `roots`; else 403."""
    try:
        folder = Path(model_dir).resolve()
    except (OSError, ValueError) as e:  # a loop of links, a NUL byte
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no model in that folder: {e}"[:300]) from None
    if not any(folder.is_relative_to(root) for root in roots):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "models are deployed only from under NEWSREC_DEPLOY_ROOTS (default: the service's working directory "
            "and the folder holding the served model): move the folder there, or add its parent to that setting",
        )
    return folder


@router.get("/model")
def get_model(svc: Service) -> Deployment:
    """The models this worker serves, each with its share of users, and whether a new one is loading."""
    return _serving(svc)


@router.post(
    "/model",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        403: described("the folder is not under NEWSREC_DEPLOY_ROOTS"),
        404: described("no model in that folder"),
        **CONFLICT_RESPONSE,
        422: described("the folder's model cannot serve: `detail` says why (nothing was deployed)"),
    },
)
def post_model(body: DeployIn, svc: Service, request: Request) -> Deployment:
    """Serve another model folder, to every user (`share` 1) or beside the current one to a share
    of them (stable per user). The model is loaded and proven first (it scores a probe of the
    stored news); one that cannot serve is a 422 and nothing changes. Every worker and instance
    then loads it in the background and swaps when it is ready; the current model answers until
    then. `loading` turns false when this worker has swapped. The folder must lie under one of
    `NEWSREC_DEPLOY_ROOTS` (default: the service's working directory and the folder holding the
    served model); it is recorded as its real path, links resolved, with the digest of its files.
    Its model files are copied first, and workers serve the copy: what is written to the folder
    after this answer changes nothing (another machine copies it when it first loads it, and
    refuses it if its files changed by then)."""
    folder = _allowed(body.model_dir, request.app.state.settings.deploy_folders)
    try:
        svc.deployments.deploy(str(folder), body.share)
    except OSError as e:  # no such folder, or a name the file system cannot even look up
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no model in that folder: {e.strerror or e}"[:300]) from None
    except DeploymentError as e:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(e)[:500]) from None
    except ValueError as e:
        raise HTTPException(status.HTTP_409_CONFLICT, str(e)) from None
    svc.sync()  # this worker starts loading at once
    return _serving(svc)
