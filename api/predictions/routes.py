"""Failure predictions for technicians and administrators: every lamp's latest score ranked by risk, one
lamp's scores over time, and the supply warnings of the circuits. The scores are written by the nightly
scoring job (models/)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from api import problems
from api.deps import Conn, FieldStaff
from api.lamps.queries import lamp_exists
from api.lamps.routes import parse_bbox
from api.lamps.schemas import LAMP_ID_PATTERN
from api.paging import Offset
from api.predictions import queries
from api.predictions.schemas import (
    CircuitPrediction,
    CircuitPredictionPage,
    LampPrediction,
    LampPredictions,
    OpenWorkOrder,
    Prediction,
    PredictionPage,
    PredictionPoint,
    Probability,
)
from api.problems import ProblemException
from core.columns import Text

router = APIRouter(prefix="/api/v1", tags=["predictions"], responses=problems.responses(401, 403))


@router.get(
    "/predictions",
    response_model=PredictionPage,
    summary="Every lamp's latest failure score, highest risk first (technician, admin)",
    description="One row per lamp not retired: its newest score, with the reasons and the lamp's open work order.",
)
def list_predictions(
    conn: Conn,
    who: FieldStaff,
    group_name: Annotated[Text | None, Query(description="Exact group name.")] = None,
    circuit: Annotated[Text | None, Query(description="Exact circuit.")] = None,
    street: Annotated[Text | None, Query(description="Exact street name.")] = None,
    min_probability: Annotated[
        Probability | None, Query(description="Only lamps at this probability or above.")
    ] = None,
    bbox: Annotated[
        Text | None,
        Query(description="min_lon,min_lat,max_lon,max_lat (WGS 84 degrees).", examples=["2.34,48.85,2.36,48.86"]),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> PredictionPage:
    where = queries.PredictionFilter(
        group_name=group_name,
        circuit=circuit,
        street=street,
        min_probability=min_probability,
        bbox=parse_bbox(bbox) if bbox else None,
    )
    total, rows = queries.list_latest(conn, where, limit=limit, offset=offset)
    return PredictionPage(
        total=total,
        limit=limit,
        offset=offset,
        latest_scored_at=queries.latest_run_at(conn),
        items=[_prediction(row) for row in rows],
    )


# Declared before any "/predictions/{...}" route there may be, so that such a route never takes it.
@router.get(
    "/predictions/circuits",
    response_model=CircuitPredictionPage,
    summary="The circuits' supply warnings of the newest scoring run, highest risk first (technician, admin)",
    description="One row per circuit the newest run scored (the newest `scored_at`): its probability of a supply "
    "loss (a failing cable, joint or cabinet) within `horizon_days`, with the reasons, the streets and centroid of "
    "its lamps not retired, and how many work orders are open on them. A crew checks a circuit once, at its "
    "cabinet.",
)
def list_circuit_predictions(
    conn: Conn,
    who: FieldStaff,
    circuit: Annotated[Text | None, Query(description="Exact circuit.")] = None,
    street: Annotated[
        Text | None, Query(description="Exact street name: circuits with a lamp not retired on it.")
    ] = None,
    min_probability: Annotated[
        Probability | None, Query(description="Only circuits at this probability or above.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> CircuitPredictionPage:
    where = queries.CircuitFilter(circuit=circuit, street=street, min_probability=min_probability)
    total = queries.count_latest_circuits(conn, where)
    rows = queries.list_latest_circuits(conn, where, limit=limit, offset=offset)
    return CircuitPredictionPage(
        total=total,
        limit=limit,
        offset=offset,
        latest_scored_at=queries.latest_circuit_run_at(conn),
        items=[CircuitPrediction(**row) for row in rows],
    )


@router.get(
    "/lamps/{lamp_id}/predictions",
    response_model=LampPredictions,
    summary="One lamp's failure scores over time, and its latest reasons (technician, admin)",
    responses=problems.responses(404),
)
def lamp_predictions(
    conn: Conn,
    who: FieldStaff,
    lamp_id: Annotated[str, Path(pattern=LAMP_ID_PATTERN)],
    since: Annotated[datetime | None, Query(description="Scores from this instant, included.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many scores, the newest.")] = 180,
) -> LampPredictions:
    if since is not None and since.utcoffset() is None:
        raise problems.invalid("since", "give a UTC offset, e.g. 2026-11-25T18:00:00+01:00 or ...Z")
    if not lamp_exists(conn, lamp_id):
        raise ProblemException(status.HTTP_404_NOT_FOUND, f"no lamp {lamp_id}")
    latest = queries.latest_for_lamp(conn, lamp_id)
    history = queries.history_for_lamp(conn, lamp_id, since=since, limit=limit)
    return LampPredictions(
        lamp_id=lamp_id,
        latest=LampPrediction(**latest) if latest else None,
        history=[PredictionPoint(**row) for row in history],
    )


def _prediction(row: dict[str, Any]) -> Prediction:
    work_order = None
    if row["work_order_id"] is not None:
        work_order = OpenWorkOrder(
            id=row["work_order_id"],
            status=row["work_order_status"],
            scheduled_for=row["work_order_scheduled_for"],
            source=row["work_order_source"],
        )
    fields = {name: value for name, value in row.items() if not name.startswith("work_order_")}
    return Prediction(**fields, work_order=work_order)
