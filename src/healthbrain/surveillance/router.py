"""Early-warning API: feeds in, alerts out, the workflow, detector settings and channels."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile, status

from healthbrain.auth.deps import PrincipalDep
from healthbrain.core.params import IdPath, OffsetQuery
from healthbrain.surveillance import files, ingest, service, workflow
from healthbrain.surveillance.schemas import (
    AlertAction,
    AlertDetail,
    AlertOut,
    ChannelIn,
    ChannelOut,
    DetectorConfigIn,
    DetectorConfigOut,
    FeedBatch,
    FeedResult,
)
from healthbrain.web.deps import LanguageDep, SessionDep

router = APIRouter(prefix="/api/v1/surveillance", tags=["surveillance"])


@router.post(
    "/feeds/{feed}",
    response_model=FeedResult,
    summary="Submit rows of a feed (school_absence, fever_clinic, pharmacy, lab, case)",
    description="Each row is checked on its own; bad rows come back with row and field and are kept. "
    "A row sent again unchanged changes nothing; with other values it is a correction. "
    "Alerts raised or extended by the batch are listed in `alerts`.",
)
def submit_feed(
    session: SessionDep, principal: PrincipalDep, language: LanguageDep, feed: str, batch: FeedBatch
) -> FeedResult:
    return ingest.ingest(
        session,
        principal=principal,
        feed=ingest.parse_feed(feed),
        rows=list(enumerate(batch.rows, start=1)),
        batch_key=batch.batch_key,
        language=language,
    )


@router.post(
    "/feeds/{feed}/file",
    response_model=FeedResult,
    summary="Submit a CSV or Excel (xlsx) file of a feed; row numbers are the file's line numbers",
)
async def submit_file(
    session: SessionDep,
    principal: PrincipalDep,
    language: LanguageDep,
    feed: str,
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or GB18030) or xlsx, headers in Chinese or English")],
) -> FeedResult:
    content = await file.read()
    parsed_feed = ingest.parse_feed(feed)
    rows = files.read_rows(parsed_feed, file.filename or "", content)
    return ingest.ingest(
        session,
        principal=principal,
        feed=parsed_feed,
        rows=rows,
        batch_key=files.content_key(content),
        channel="file",
        language=language,
    )


@router.get("/alerts", response_model=list[AlertOut], summary="Alerts, newest first")
def list_alerts(
    session: SessionDep,
    principal: PrincipalDep,
    language: LanguageDep,
    status_: Annotated[list[str] | None, Query(alias="status")] = None,
    grade: Annotated[list[str] | None, Query()] = None,
    signal: Annotated[str | None, Query(max_length=48)] = None,
    town_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    overdue: bool = False,
    since: date | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: OffsetQuery = 0,
) -> list[AlertOut]:
    rows, _total = service.list_alerts(
        session,
        principal=principal,
        filters=service.AlertFilter(
            statuses=tuple(status_ or ()),
            grades=tuple(grade or ()),
            signal_prefix=signal,
            town_id=town_id,
            overdue_only=overdue,
            since=since,
        ),
        language=language,
        limit=limit,
        offset=offset,
    )
    return rows


@router.get(
    "/alerts/{alert_id}", response_model=AlertDetail, summary="An alert with its evidence, series, line list and trail"
)
def get_alert(session: SessionDep, principal: PrincipalDep, language: LanguageDep, alert_id: IdPath) -> AlertDetail:
    return service.alert_detail(session, principal=principal, alert_id=alert_id, language=language)


@router.post(
    "/alerts/{alert_id}/actions",
    response_model=AlertOut,
    status_code=status.HTTP_200_OK,
    summary="Take a workflow step: verify, dismiss, monitor, assess, respond, close, report, note",
)
def act(
    session: SessionDep, principal: PrincipalDep, language: LanguageDep, alert_id: IdPath, data: AlertAction
) -> AlertOut:
    alert = workflow.act(session, principal=principal, alert_id=alert_id, data=data)
    names = service.place_names(session, {(alert.place_kind, alert.place_id)}, language)
    return service.alert_out(alert, names=names, language=language, now=alert.updated_at)


@router.get("/detectors", response_model=list[DetectorConfigOut], summary="Detector settings")
def list_detectors(session: SessionDep, principal: PrincipalDep) -> list[DetectorConfigOut]:
    return [DetectorConfigOut.model_validate(d) for d in service.list_detectors(session, principal=principal)]


@router.post("/detectors", response_model=DetectorConfigOut, status_code=status.HTTP_201_CREATED)
def create_detector(
    session: SessionDep, principal: PrincipalDep, language: LanguageDep, data: DetectorConfigIn
) -> DetectorConfigOut:
    return DetectorConfigOut.model_validate(
        service.save_detector(session, principal=principal, data=data, language=language)
    )


@router.put("/detectors/{detector_id}", response_model=DetectorConfigOut)
def update_detector(
    session: SessionDep, principal: PrincipalDep, language: LanguageDep, detector_id: IdPath, data: DetectorConfigIn
) -> DetectorConfigOut:
    return DetectorConfigOut.model_validate(
        service.save_detector(session, principal=principal, data=data, detector_id=detector_id, language=language)
    )


@router.get("/channels", response_model=list[ChannelOut], summary="Notification channels")
def list_channels(session: SessionDep, principal: PrincipalDep) -> list[ChannelOut]:
    return [ChannelOut.model_validate(c) for c in service.list_channels(session, principal=principal)]


@router.put("/channels", response_model=ChannelOut, summary="Create or update a channel (by name)")
def save_channel(session: SessionDep, principal: PrincipalDep, data: ChannelIn) -> ChannelOut:
    return ChannelOut.model_validate(service.save_channel(session, principal=principal, data=data))
