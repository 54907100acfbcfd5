from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from crm import api, api_links, views


def api_record_paths(kind: api.ApiKind) -> tuple[URLPattern, URLPattern]:
    return (
        path(
            f"{kind.plural}/",
            api.RecordListApi.as_view(kind=kind),
            name=f"api-{kind.singular}-list",
        ),
        path(
            f"{kind.plural}/<int:pk>/",
            api.RecordDetailApi.as_view(kind=kind),
            name=f"api-{kind.singular}",
        ),
    )


# Mounted under /api/v1/ by config/urls.py.
api_urlpatterns: list[URLPattern | URLResolver] = [
    *[
        pattern
        for kind in (api.CONTACTS, api.COMPANIES)
        for pattern in api_record_paths(kind)
    ],
    path(
        "companies/<int:pk>/contacts/",
        api_links.CompanyContactListApi.as_view(),
        name="api-company-contacts",
    ),
    *[
        pattern
        for link in api_links.RECORD_LINKS
        for pattern in (
            path(
                link.path,
                api_links.RecordLinkListApi.as_view(link=link),
                name=link.name,
            ),
            path(
                f"{link.path}<int:{link.other_param}>/",
                api_links.RecordLinkDeleteApi.as_view(link=link),
                name=f"api-{link.left}-{link.right}",
            ),
        )
    ],
    *[
        pattern
        for kind in (api.DEALS, api.TICKETS)
        for pattern in api_record_paths(kind)
    ],
    path("pipelines/", api.PipelineListApi.as_view(), name="api-pipeline-list"),
]
# Server-rendered pages, mounted at the root.
urlpatterns: list[URLPattern | URLResolver] = [
    path("contacts/", views.record_list, {"kind": "contact"}, name="contact-list"),
    path("contacts/<int:pk>/", views.contact_detail, name="contact-detail"),
    path(
        "contacts/<int:pk>/emails/primary/",
        views.contact_primary_email,
        name="contact-primary-email",
    ),
    path("companies/", views.record_list, {"kind": "company"}, name="company-list"),
    path("companies/<int:pk>/", views.company_detail, name="company-detail"),
    path("deals/", views.record_list, {"kind": "deal"}, name="deal-list"),
    path("deals/board/", views.deal_board, name="deal-board"),
    path("deals/<int:pk>/", views.deal_detail, name="deal-detail"),
    path("tickets/", views.record_list, {"kind": "ticket"}, name="ticket-list"),
    path("tickets/board/", views.ticket_board, name="ticket-board"),
    path("tickets/<int:pk>/", views.ticket_detail, name="ticket-detail"),
]
# The same forms for every kind: /contacts/new/, /deals/7/edit/, /tickets/3/move/ ...
for _kind in views.KINDS.values():
    _base, _k = _kind.plural, {"kind": _kind.name}
    urlpatterns += [
        path(f"{_base}/new/", views.record_create, _k, name=f"{_kind.name}-create"),
        path(
            f"{_base}/<int:pk>/edit/", views.record_edit, _k, name=f"{_kind.name}-edit"
        ),
        path(
            f"{_base}/<int:pk>/archive/",
            views.record_archive,
            _k,
            name=f"{_kind.name}-archive",
        ),
        path(
            f"{_base}/<int:pk>/restore/",
            views.record_restore,
            _k,
            name=f"{_kind.name}-restore",
        ),
        path(
            f"{_base}/<int:pk>/links/<str:other>/",
            views.record_link,
            _k,
            name=f"{_kind.name}-link",
        ),
        path(
            f"{_base}/<int:pk>/links/<str:other>/<int:other_pk>/delete/",
            views.record_unlink,
            _k,
            name=f"{_kind.name}-unlink",
        ),
    ]
urlpatterns += [
    path("deals/<int:pk>/move/", views.record_move, {"kind": "deal"}, name="deal-move"),
    path(
        "tickets/<int:pk>/move/",
        views.record_move,
        {"kind": "ticket"},
        name="ticket-move",
    ),
]
