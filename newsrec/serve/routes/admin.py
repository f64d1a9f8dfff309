"""/v1/admin/model: which models serve, and swapping or comparing them without a restart."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, status

from newsrec.serve.deps import Service, require_scope
from newsrec.serve.errors import CONFLICT_RESPONSE, ERROR_RESPONSES, described
from newsrec.serve.schemas import DeployIn, Deployment, ServedArm
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


@router.get("/model")
def get_model(svc: Service) -> Deployment:
    """The models this worker serves, each with its share of users, and whether a new one is loading."""
    return _serving(svc)


@router.post(
    "/model",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        404: described("no model in that folder"),
        **CONFLICT_RESPONSE,
        422: described("the folder's model cannot serve: `detail` says why (nothing was deployed)"),
    },
)
def post_model(body: DeployIn, svc: Service) -> Deployment:
    """Serve another model folder, to every user (`share` 1) or beside the current one to a share
    of them (stable per user). The model is loaded and proven first (it scores a probe of the
    stored news); one that cannot serve is a 422 and nothing changes. Every worker and instance
    then loads it in the background and swaps when it is ready; the current model answers until
    then. `loading` turns false when this worker has swapped."""
    try:
        svc.deploy(body.model_dir, body.share)
    except OSError as e:  # no such folder, or a name the file system cannot even look up
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no model in that folder: {e.strerror or e}"[:300]) from None
    except DeploymentError as e:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(e)[:500]) from None
    except ValueError as e:
        raise HTTPException(status.HTTP_409_CONFLICT, str(e)) from None
    svc.sync()  # this worker starts loading at once
    return _serving(svc)
