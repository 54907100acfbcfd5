"""Small builders for CRM tests; each sets only what a test is about."""

from __future__ import annotations

from typing import Any

from crm.models import Company, Contact, Deal, Pipeline, PipelineKind, Stage, Ticket
from crm.services import company_create, contact_create, deal_create, ticket_create

_counter = iter(range(1, 1_000_000))


def pipeline(kind: str = PipelineKind.DEAL, name: str = "") -> Pipeline:
    pipe = Pipeline.objects.create(
        name=name or f"{kind} pipeline {next(_counter)}", kind=kind
    )
    Stage.objects.create(pipeline=pipe, name="New", position=0)
    Stage.objects.create(pipeline=pipe, name="Done", position=1, is_closed=True)
    return pipe


def open_stage(pipe: Pipeline) -> Stage:
    return pipe.stages.get(is_closed=False)


def closed_stage(pipe: Pipeline) -> Stage:
    return pipe.stages.get(is_closed=True)


def contact(email: str = "", **fields: Any) -> Contact:
    return contact_create(
        emails=[email or f"person{next(_counter)}@example.org"], **fields
    )


def company(domain: str = "", **fields: Any) -> Company:
    n = next(_counter)
    return company_create(
        name=fields.pop("name", f"Company {n}"),
        domain=domain or f"c{n}.example",
        **fields,
    )


def deal(**fields: Any) -> Deal:
    pipe = fields.pop("pipeline", None) or pipeline(PipelineKind.DEAL)
    return deal_create(
        name=fields.pop("name", f"Deal {next(_counter)}"),
        pipeline=pipe,
        stage=fields.pop("stage", None) or open_stage(pipe),
        **fields,
    )


def ticket(**fields: Any) -> Ticket:
    pipe = fields.pop("pipeline", None) or pipeline(PipelineKind.TICKET)
    return ticket_create(
        subject=fields.pop("subject", f"Ticket {next(_counter)}"),
        pipeline=pipe,
        stage=fields.pop("stage", None) or open_stage(pipe),
        **fields,
    )
