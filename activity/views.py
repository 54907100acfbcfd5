from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest

from activity.api import attachment_response
from activity.selectors import attachment_get_for_user


@login_required
def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    """An attachment of a logged email, for signed-in users of the web pages (L6)."""
    return attachment_response(attachment_get_for_user(request.user, pk))
