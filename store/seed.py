"""Load the network's reference data from `store/seed_data/*.yaml` (idempotent upserts).

Each record carries `source: "<seed file>:<line>"`, pointing at the document it came from.
"""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store import search_index
from ccin_bridge.store.models import (
    Base,
    CaseStudy,
    Category,
    DpsFramework,
    Event,
    Organisation,
    Principle,
    Project,
    Supplier,
)
from ccin_bridge.store.reference import INDIVIDUAL
from ccin_bridge.store.text import normalise_url

SEED_DIR = Path(__file__).parent / "seed_data"
SOURCE_PATTERN = r"^\d{3}_[0-9a-f]+\.txt:\d+$"
Source = Field(pattern=SOURCE_PATTERN)


class SeedError(Exception):
    """A seed data file is missing or malformed."""


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore")
    source: str = Source


class OrganisationRow(_Row):
    name: str
    type: Literal["full", "associate", "affiliate", "supporter"]
    subtype: str | None = None
    supporter_kind: Literal["individual", "organisation"] | None = None

    @property
    def stored_subtype(self) -> str | None:
        """An individual supporter is a person, not an organisation: kept in `subtype` so the
        organisation picker can leave them out (store/reference.py)."""
        return INDIVIDUAL if self.supporter_kind == INDIVIDUAL else self.subtype


class PrincipleRow(_Row):
    number: int
    name: str
    description: str


class CategoryRow(_Row):
    name: str
    description: str | None = None


class CaseStudyRow(_Row):
    title: str
    member: str | None = None
    year: str | int | None = None
    categories: list[str] = []
    principles: list[str] = []
    summary: str | None = None
    url: str | None = None


class ProjectRow(_Row):
    title: str
    kind: str
    lead: str | None = None
    partners: list[str] | None = None
    year: str | int | None = None
    url: str | None = None
    summary: str | None = None
    # Only what a seed says the item serves, with where it says so.
    categories: list[str] = []
    categories_source: str | None = Field(default=None, pattern=SOURCE_PATTERN)
    principles: list[str] = []
    principles_source: str | None = Field(default=None, pattern=SOURCE_PATTERN)


class DpsRow(_Row):
    name: str
    starts: date
    ends: date
    eligible_member_types: list[str]
    how_to_access: str | None = None


class SupplierRow(_Row):
    name: str
    services: str | None = None
    lots: list[str] | None = None
    website: str | None = None


class EventRow(_Row):
    title: str
    starts: date | None = None
    ends: date | None = None
    date_text: str | None = None
    status: Literal["held", "planned", "superseded", "cancelled"] = "planned"
    at: time | None = Field(default=None, alias="time")
    location: str | None = None
    online: bool | None = None
    url: str | None = None
    summary: str | None = None


class RecurringRow(_Row):
    title: str
    rrule: str
    at: time | None = Field(default=None, alias="time")
    duration_minutes: int | None = None
    online: bool | None = None
    summary: str | None = None


R = TypeVar("R", bound=_Row)


def _read(seed_dir: Path, name: str) -> dict[str, Any]:
    path = seed_dir / name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SeedError(f"{path}: cannot be loaded ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise SeedError(f"{path}: expected a mapping at the top level")
    return data


def _rows(data: dict[str, Any], key: str, model: type[R], where: str) -> list[R]:
    rows = []
    for index, raw in enumerate(data.get(key) or []):
        try:
            rows.append(model.model_validate(raw))
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            field = ".".join(str(p) for p in first["loc"])
            raise SeedError(f"{where}: {key}[{index}].{field}: {first['msg']}") from None
    return rows


def _year(value: str | int | None) -> str | None:
    return None if value is None else str(value)


async def _upsert(
    session: AsyncSession, model: type[Base], key: dict[str, Any], **values: Any
) -> None:
    row = await session.scalar(select(model).filter_by(**key))
    if row is None:
        session.add(model(**key, **values))
    else:
        for name, value in values.items():
            setattr(row, name, value)


def _check_facets(row: ProjectRow, index: int, known: dict[str, set[str]]) -> None:
    """A project's categories and principles are ones the seeds name, each with its source."""
    for facet, names in known.items():
        given: list[str] = getattr(row, facet)
        unknown = [name for name in given if name not in names]
        where = f"projects.yaml: projects[{index}].{facet}"
        if unknown:
            raise SeedError(f"{where}: {', '.join(unknown)} is not in {facet}.yaml")
        if given and getattr(row, f"{facet}_source") is None:
            raise SeedError(f"{where}: needs {facet}_source, the seed line that says so")


async def seed(session: AsyncSession, seed_dir: Path = SEED_DIR) -> dict[str, int]:
    """Upsert every seed file; returns how many records each table holds afterwards."""
    orgs = _read(seed_dir, "organisations.yaml")
    for o in _rows(orgs, "organisations", OrganisationRow, "organisations.yaml"):
        await _upsert(
            session,
            Organisation,
            {"name": o.name},
            member_type=o.type,
            subtype=o.stored_subtype,
            source=o.source,
        )

    principles = _read(seed_dir, "principles.yaml")
    for p in _rows(principles, "principles", PrincipleRow, "principles.yaml"):
        await _upsert(
            session,
            Principle,
            {"number": p.number},
            name=p.name,
            description=p.description,
            source=p.source,
        )

    categories = _read(seed_dir, "categories.yaml")
    for c in _rows(categories, "categories", CategoryRow, "categories.yaml"):
        await _upsert(
            session, Category, {"name": c.name}, description=c.description, source=c.source
        )

    studies = _read(seed_dir, "case_studies.yaml")
    for s in _rows(studies, "case_studies", CaseStudyRow, "case_studies.yaml"):
        await _upsert(
            session,
            CaseStudy,
            {"title": s.title},
            member=s.member,
            year=_year(s.year),
            categories=s.categories,
            principles=s.principles,
            summary=s.summary or "",
            url=normalise_url(s.url),
            source=s.source,
        )

    projects = _read(seed_dir, "projects.yaml")
    known = {
        "categories": {c.name for c in _rows(categories, "categories", CategoryRow, "")},
        "principles": {p.name for p in _rows(principles, "principles", PrincipleRow, "")},
    }
    for index, pr in enumerate(_rows(projects, "projects", ProjectRow, "projects.yaml")):
        _check_facets(pr, index, known)
        await _upsert(
            session,
            Project,
            {"title": pr.title},
            kind=pr.kind,
            lead=pr.lead,
            partners=pr.partners or [],
            year=_year(pr.year),
            url=normalise_url(pr.url),
            summary=pr.summary or "",
            categories=pr.categories,
            principles=pr.principles,
            source=pr.source,
        )

    supply = _read(seed_dir, "suppliers.yaml")
    framework = supply.get("dps")
    if framework is not None:
        d = _rows({"dps": [framework]}, "dps", DpsRow, "suppliers.yaml")[0]
        as_of = supply.get("as_of")
        await _upsert(
            session,
            DpsFramework,
            {"name": d.name},
            starts_on=d.starts,
            ends_on=d.ends,
            eligible_member_types=d.eligible_member_types,
            how_to_access=d.how_to_access,
            as_of=as_of if isinstance(as_of, date) else None,
            source=d.source,
        )
    for sp in _rows(supply, "suppliers", SupplierRow, "suppliers.yaml"):
        await _upsert(
            session,
            Supplier,
            {"name": sp.name},
            services=sp.services,
            lots=sp.lots or [],
            website=normalise_url(sp.website),
            source=sp.source,
        )

    calendar = _read(seed_dir, "events.yaml")
    for e in _rows(calendar, "events", EventRow, "events.yaml"):
        await _upsert(
            session,
            Event,
            {"title": e.title, "starts_on": e.starts},
            ends_on=e.ends,
            date_text=e.date_text,
            status=e.status,
            start_time=e.at,
            location=e.location,
            online=e.online,
            url=normalise_url(e.url),
            summary=e.summary or "",
            source=e.source,
        )
    for r in _rows(calendar, "recurring", RecurringRow, "events.yaml"):
        await _upsert(
            session,
            Event,
            {"title": r.title, "rrule": r.rrule},
            status="planned",
            start_time=r.at,
            duration_minutes=r.duration_minutes,
            online=r.online,
            summary=r.summary or "",
            source=r.source,
        )
    await session.flush()
    await search_index.sync(session)  # the rows written, or all of a new database
    return await counts(session)


SEEDED = (Organisation, Principle, Category, CaseStudy, Project, DpsFramework, Supplier, Event)


async def counts(session: AsyncSession) -> dict[str, int]:
    result = {}
    for model in SEEDED:
        result[model.__tablename__] = int(
            await session.scalar(select(func.count()).select_from(model)) or 0
        )
    return result


async def is_empty(session: AsyncSession) -> bool:
    return not await session.scalar(select(func.count()).select_from(Organisation))
