from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from crm import api, views

# Mounted under /api/v1/ by config/urls.py.
api_urlpatterns: list[URLPattern | URLResolver] = [
    path("contacts/", api.ContactListApi.as_view(), name="api-contact-list"),
    path("contacts/<int:pk>/", api.ContactDetailApi.as_view(), name="api-contact"),
    path(
        "contacts/<int:pk>/companies/",
        api.ContactCompanyListApi.as_view(),
        name="api-contact-companies",
    ),
    path(
        "contacts/<int:pk>/companies/<int:company_id>/",
        api.ContactCompanyDeleteApi.as_view(),
        name="api-contact-company",
    ),
    path(
        "contacts/<int:pk>/deals/",
        api.ContactDealListApi.as_view(),
        name="api-contact-deals",
    ),
    path(
        "contacts/<int:pk>/deals/<int:other_id>/",
        api.ContactDealDeleteApi.as_view(),
        name="api-contact-deal",
    ),
    path(
        "contacts/<int:pk>/tickets/",
        api.ContactTicketListApi.as_view(),
        name="api-contact-tickets",
    ),
    path(
        "contacts/<int:pk>/tickets/<int:other_id>/",
        api.ContactTicketDeleteApi.as_view(),
        name="api-contact-ticket",
    ),
    path("companies/", api.CompanyListApi.as_view(), name="api-company-list"),
    path("companies/<int:pk>/", api.CompanyDetailApi.as_view(), name="api-company"),
    path(
        "companies/<int:pk>/contacts/",
        api.CompanyContactListApi.as_view(),
        name="api-company-contacts",
    ),
    path(
        "companies/<int:pk>/deals/",
        api.CompanyDealListApi.as_view(),
        name="api-company-deals",
    ),
    path(
        "companies/<int:pk>/deals/<int:other_id>/",
        api.CompanyDealDeleteApi.as_view(),
        name="api-company-deal",
    ),
    path(
        "companies/<int:pk>/tickets/",
        api.CompanyTicketListApi.as_view(),
        name="api-company-tickets",
    ),
    path(
        "companies/<int:pk>/tickets/<int:other_id>/",
        api.CompanyTicketDeleteApi.as_view(),
        name="api-company-ticket",
    ),
    path("deals/", api.DealListApi.as_view(), name="api-deal-list"),
    path("deals/<int:pk>/", api.DealDetailApi.as_view(), name="api-deal"),
    path("tickets/", api.TicketListApi.as_view(), name="api-ticket-list"),
    path("tickets/<int:pk>/", api.TicketDetailApi.as_view(), name="api-ticket"),
    path("pipelines/", api.PipelineListApi.as_view(), name="api-pipeline-list"),
]
# Server-rendered pages, mounted at the root.
urlpatterns: list[URLPattern | URLResolver] = [
    path("contacts/", views.contact_list, name="contact-list"),
    path("contacts/<int:pk>/", views.contact_detail, name="contact-detail"),
    path(
        "contacts/<int:pk>/emails/primary/",
        views.contact_primary_email,
        name="contact-primary-email",
    ),
    path("companies/", views.company_list, name="company-list"),
    path("companies/<int:pk>/", views.company_detail, name="company-detail"),
    path("deals/", views.deal_list, name="deal-list"),
    path("deals/board/", views.deal_board, name="deal-board"),
    path("deals/<int:pk>/", views.deal_detail, name="deal-detail"),
    path("tickets/", views.ticket_list, name="ticket-list"),
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
            f"{_base}/<int:pk>/delete/",
            views.record_delete,
            _k,
            name=f"{_kind.name}-delete",
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
