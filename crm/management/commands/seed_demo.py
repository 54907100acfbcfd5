"""`manage.py seed_demo`: the demo account, idempotent and deterministic.

Users alice (sales seat), bob (core seat) and admin (super admin); 10 companies with about
45 contacts joined by domain (R5), 5 free-mail contacts with no company, a deal pipeline and
a ticket pipeline with open and closed stages, 20 deals and 12 tickets with associations.
Run it twice and the second run creates and changes nothing. The domains use the reserved
`.example` top-level domain so a demo email can never reach a real company.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from crm.models import (
    Company,
    Contact,
    Deal,
    LegalBasis,
    MarketingStatus,
    Pipeline,
    PipelineKind,
    Stage,
    Ticket,
    TicketPriority,
)
from crm.selectors import company_get_by_domain, contact_get_by_email, email_domain
from crm.services import (
    association_create,
    company_create,
    contact_create,
    deal_create,
    ticket_create,
)
from settings_admin.models import Seat, SendingIdentityKind
from settings_admin.selectors import account_settings_get, user_settings_get
from settings_admin.services import (
    sending_identity_add,
    sending_identity_confirm,
    sending_identity_token,
    user_settings_update,
)

SEED = 2026
EMAIL_DOMAIN = "beacon.example"


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    seat: str
    password: str
    superuser: bool = False


# Published demo passwords: the command refuses to run in production (see handle()).
USERS = [
    DemoUser("alice", "Alice", "Moreau", Seat.SALES, "alice-demo-2026"),
    DemoUser("bob", "Bob", "Okafor", Seat.CORE, "bob-demo-2026"),
    DemoUser("admin", "Ada", "Admin", Seat.SALES, "admin-demo-2026", superuser=True),
]

COMPANIES = [
    ("Northwind Traders", "northwind-traders.example"),
    ("Acme Robotics", "acme-robotics.example"),
    ("Globex Logistics", "globex-logistics.example"),
    ("Initech Software", "initech.example"),
    ("Umbrella Health", "umbrella-health.example"),
    ("Stark Renewables", "stark-renewables.example"),
    ("Wayne Analytics", "wayne-analytics.example"),
    ("Vandelay Industries", "vandelay.example"),
    ("Soylent Foods", "soylent-foods.example"),
    ("Tyrell Biotech", "tyrell-biotech.example"),
]
CONTACTS_PER_COMPANY = (5, 4, 5, 4, 5, 4, 5, 4, 5, 4)  # 45 in all
FREE_MAIL = ["gmail.com", "outlook.com", "yahoo.com", "icloud.com", "hotmail.com"]

FIRST_NAMES = [
    "Anna",
    "Liam",
    "Sofia",
    "Noah",
    "Maja",
    "Lucas",
    "Elena",
    "Mateo",
    "Chloe",
    "Omar",
    "Hannah",
    "Yusuf",
    "Ingrid",
    "Tomás",
    "Priya",
    "Jonas",
    "Amara",
    "Felix",
    "Leila",
    "Kenji",
    "Nora",
    "Daniel",
    "Zoe",
    "Ravi",
    "Clara",
    "Mikael",
    "Aisha",
    "Pedro",
    "Freya",
    "Samuel",
]
LAST_NAMES = [
    "Svensson",
    "Nakamura",
    "García",
    "Müller",
    "Okonkwo",
    "Rossi",
    "Dubois",
    "Kowalski",
    "Haddad",
    "Nguyen",
    "Johansson",
    "Fernández",
    "Schmidt",
    "Patel",
    "O'Brien",
    "Larsen",
    "Costa",
    "Novak",
    "Ibrahim",
    "Berg",
    "Moreno",
    "Weber",
    "Sato",
    "Lindqvist",
    "Kaya",
]

DEAL_STAGES = [
    ("Appointment scheduled", False),
    ("Qualified to buy", False),
    ("Presentation scheduled", False),
    ("Decision maker bought-in", False),
    ("Contract sent", False),
    ("Closed won", True),
    ("Closed lost", True),
]
TICKET_STAGES = [
    ("New", False),
    ("Waiting on contact", False),
    ("Waiting on us", False),
    ("Closed", True),
]
DEAL_PRODUCTS = [
    "Platform licence",
    "Onboarding package",
    "Renewal",
    "Expansion seats",
    "Pilot",
    "Support plan",
    "Data migration",
]
TICKET_SUBJECTS = [
    "Cannot log in after password reset",
    "Invoice shows the wrong VAT number",
    "Tracking pixel blocked by our gateway",
    "Export to CSV times out",
    "Add a second billing contact",
    "Emails not appearing on the timeline",
    "Request for a data processing agreement",
    "SSO setup help",
    "Duplicate contacts after import",
    "Notifications arrive late",
    "Change of company address",
    "Question about attachment limits",
]
LEGAL_BASES = [
    LegalBasis.LEGITIMATE_INTEREST_PROSPECT,
    LegalBasis.LEGITIMATE_INTEREST_CUSTOMER,
    LegalBasis.CONTRACT,
    LegalBasis.CONSENT,
    LegalBasis.NONE,
    LegalBasis.NOT_APPLICABLE,
]


@dataclass
class ContactPlan:
    first_name: str
    last_name: str
    emails: list[str]
    owner: str | None
    legal_basis: str
    marketing_status: str


@dataclass
class Tally:
    created: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, was_created: bool) -> None:
        self.created[kind] = self.created.get(kind, 0) + int(was_created)


def _ascii(name: str) -> str:
    table = str.maketrans("áàäåãéèëíïóöøõúüñç", "aaaaaeeeiioooouunc")
    return name.lower().translate(table).replace("'", "").replace(" ", "")


def plan_contacts(rng: random.Random) -> list[ContactPlan]:
    """The same 50 people every run: names, addresses, owner and legal basis."""
    plans: list[ContactPlan] = []
    used: set[str] = set()
    names: set[tuple[str, str]] = set()

    def person(domain: str, *, with_alias: bool) -> ContactPlan:
        while True:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            if (first, last) not in names:
                break
        names.add((first, last))
        email = f"{_ascii(first)}.{_ascii(last)}@{domain}"
        used.add(email)
        emails = [email]
        if with_alias:
            alias = f"{_ascii(first)[0]}{_ascii(last)}@{domain}"
            if alias not in used:
                used.add(alias)
                emails.append(alias)
        return ContactPlan(
            first_name=first,
            last_name=last,
            emails=emails,
            owner=rng.choice(["alice", "alice", "bob", None]),
            legal_basis=rng.choice(LEGAL_BASES),
            marketing_status=rng.choice(
                [MarketingStatus.MARKETING, MarketingStatus.NON_MARKETING]
            ),
        )

    for (_, domain), count in zip(COMPANIES, CONTACTS_PER_COMPANY, strict=True):
        for _ in range(count):
            plans.append(person(domain, with_alias=rng.random() < 0.2))
    for domain in FREE_MAIL:
        plan = person(domain, with_alias=False)
        # Free-mail addresses get a suffix so they are plainly not a real person's.
        plan.emails = [plan.emails[0].replace("@", ".demo@")]
        plans.append(plan)
    return plans


class Command(BaseCommand):
    help = "Creates the demo account (idempotent): users, companies, contacts, deals, tickets."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Seed even with DEBUG off (the demo passwords are published).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError(
                "seed_demo creates users with published passwords; run it with DEBUG=1 "
                "or pass --allow-production if this really is a demo server."
            )
        rng = random.Random(SEED)
        tally = Tally()
        with transaction.atomic():
            account_settings_get()
            users = {spec.username: self.seed_user(spec, tally) for spec in USERS}
            alias = sending_identity_add(
                user=users["alice"],
                email=f"sales@{EMAIL_DOMAIN}",
                kind=SendingIdentityKind.ALIAS,
            )
            # As if alice had opened the link mailed to it (U2).
            sending_identity_confirm(
                user=users["alice"], token=sending_identity_token(alias)
            )
            companies = self.seed_companies(users, tally)
            contacts = self.seed_contacts(plan_contacts(rng), users, tally)
            deal_stages = self.seed_pipeline(
                "Sales pipeline", PipelineKind.DEAL, DEAL_STAGES
            )
            ticket_stages = self.seed_pipeline(
                "Support pipeline", PipelineKind.TICKET, TICKET_STAGES
            )
            self.seed_deals(rng, companies, contacts, deal_stages, tally)
            self.seed_tickets(rng, companies, contacts, ticket_stages, users, tally)
        self.report(tally)

    def seed_user(self, spec: DemoUser, tally: Tally) -> User:
        user, created = User.objects.get_or_create(
            username=spec.username,
            defaults={
                "email": f"{spec.username}@{EMAIL_DOMAIN}",
                "first_name": spec.first_name,
                "last_name": spec.last_name,
                "is_staff": spec.superuser,
                "is_superuser": spec.superuser,
            },
        )
        # Only touch the hash when the password differs, so a re-run changes nothing.
        if created or not user.check_password(spec.password):
            user.set_password(spec.password)
            user.save(update_fields=["password"])
        if user_settings_get(user).seat != spec.seat:
            user_settings_update(user=user, data={"seat": spec.seat})
        tally.add("users", created)
        return user

    def seed_companies(self, users: dict[str, User], tally: Tally) -> list[Company]:
        companies = []
        for index, (name, domain) in enumerate(COMPANIES):
            company = company_get_by_domain(domain)
            tally.add("companies", company is None)
            if company is None:
                owner = users["alice"] if index % 3 else users["bob"]
                company = company_create(name=name, domain=domain, owner=owner)
            companies.append(company)
        return companies

    def seed_contacts(
        self, plans: list[ContactPlan], users: dict[str, User], tally: Tally
    ) -> dict[str, list[Contact]]:
        """The contacts by their email domain, in plan order."""
        by_domain: dict[str, list[Contact]] = {}
        for plan in plans:
            contact = contact_get_by_email(plan.emails[0])
            tally.add("contacts", contact is None)
            if contact is None:
                # Joins the company that owns its domain (R5); free mail joins none.
                contact = contact_create(
                    emails=plan.emails,
                    first_name=plan.first_name,
                    last_name=plan.last_name,
                    owner=users[plan.owner] if plan.owner else None,
                    legal_basis=plan.legal_basis,
                    marketing_status=plan.marketing_status,
                )
            domain = email_domain(plan.emails[0])
            by_domain.setdefault(domain, []).append(contact)
        return by_domain

    def seed_pipeline(
        self, name: str, kind: str, stages: list[tuple[str, bool]]
    ) -> list[Stage]:
        # Pipelines are reference data with no workflow of their own: no service to call.
        pipeline, _ = Pipeline.objects.get_or_create(name=name, kind=kind)
        return [
            Stage.objects.get_or_create(
                pipeline=pipeline,
                name=stage_name,
                defaults={"position": position, "is_closed": is_closed},
            )[0]
            for position, (stage_name, is_closed) in enumerate(stages)
        ]

    def seed_deals(
        self,
        rng: random.Random,
        companies: list[Company],
        contacts: dict[str, list[Contact]],
        stages: list[Stage],
        tally: Tally,
    ) -> None:
        today = timezone.localdate()
        for number in range(20):
            company = companies[number % len(companies)]
            # Each company's two deals get different products, so names are unique.
            product = DEAL_PRODUCTS[(number * 3) % len(DEAL_PRODUCTS)]
            stage = stages[rng.randrange(len(stages))]
            amount = Decimal(rng.randrange(30, 900) * 100)
            offset = rng.randrange(-60, 120)
            people = self.people_of(rng, contacts[company.domain])
            name = f"{company.name} - {product}"
            deal = Deal.objects.filter(name=name).first()
            tally.add("deals", deal is None)
            if deal is None:
                deal = deal_create(
                    name=name,
                    pipeline=stage.pipeline,
                    stage=stage,
                    owner=company.owner,
                    amount=amount,
                    close_date=today + datetime.timedelta(days=offset),
                )
            association_create(left=company, right=deal)
            for contact in people:
                association_create(left=contact, right=deal)

    def seed_tickets(
        self,
        rng: random.Random,
        companies: list[Company],
        contacts: dict[str, list[Contact]],
        stages: list[Stage],
        users: dict[str, User],
        tally: Tally,
    ) -> None:
        priorities = list(TicketPriority.values)
        for number, subject in enumerate(TICKET_SUBJECTS):
            company = companies[(number * 3) % len(companies)]
            stage = stages[rng.randrange(len(stages))]
            priority = rng.choice(priorities)
            people = self.people_of(rng, contacts[company.domain])[:1]
            ticket = Ticket.objects.filter(subject=subject).first()
            tally.add("tickets", ticket is None)
            if ticket is None:
                ticket = ticket_create(
                    subject=subject,
                    pipeline=stage.pipeline,
                    stage=stage,
                    owner=users["bob"] if number % 2 else users["alice"],
                    priority=priority,
                )
            association_create(left=company, right=ticket)
            for contact in people:
                association_create(left=contact, right=ticket)

    @staticmethod
    def people_of(rng: random.Random, staff: list[Contact]) -> list[Contact]:
        return rng.sample(staff, k=min(len(staff), rng.randint(1, 3)))

    def report(self, tally: Tally) -> None:
        made = ", ".join(f"{count} {kind}" for kind, count in tally.created.items())
        self.stdout.write(f"Demo data ready (created now: {made}).")
        self.stdout.write(
            f"Contacts: {Contact.objects.count()}, companies: {Company.objects.count()}, "
            f"deals: {Deal.objects.count()}, tickets: {Ticket.objects.count()}."
        )
        self.stdout.write(self.style.SUCCESS("Demo logins (username / password):"))
        for spec in USERS:
            role = "super admin" if spec.superuser else f"{spec.seat} seat"
            self.stdout.write(f"  {spec.username:<6} / {spec.password:<16} ({role})")
