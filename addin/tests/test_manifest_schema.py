"""The served manifest against Microsoft's Office add-in XSDs (addin/schemas/, sources and
licence in addin/schemas/NOTICE.md) and, for event-based activation, which the published
VersionOverrides 1.1 schema predates, against the structure Microsoft documents for it
(addin/tests/event_based_activation.xsd and the checks below).

What only Microsoft's validator can check is listed in the README ("Checking the
manifest")."""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

import pytest
import xmlschema
from django.test import Client

from addin.tests.test_pages import NS, XSI_TYPE, served

pytestmark = pytest.mark.django_db

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
SUPPLEMENT = Path(__file__).resolve().parent / "event_based_activation.xsd"
V10, V11, BT = (f"{{{NS[prefix]}}}" for prefix in ("v10", "v11", "bt"))

# (scheme, host): the development server as the tests' client sees it, and a
# production-like HTTPS host on a non-default port.
SERVED_AS = [("http", "testserver"), ("https", "beacon.example:8443")]


@functools.cache
def office_schema(*, with_event_based_activation: bool) -> xmlschema.XMLSchema:
    """Microsoft's XSDs, optionally with the event-based activation supplement loaded
    into the VersionOverrides 1.1 namespace. Built once per run (about 2 s each)."""
    schema = xmlschema.XMLSchema(SCHEMAS / "OfficeAppManifestV1_1.xsd", build=False)
    if with_event_based_activation:
        schema.add_schema(SUPPLEMENT, namespace=NS["v11"])
    schema.build()
    return schema


class Served(NamedTuple):
    resource: xmlschema.XMLResource
    scheme: str
    host: str


def served_manifest(client: Client, settings: object, scheme: str, host: str) -> Served:
    settings.ALLOWED_HOSTS = ["testserver", "beacon.example"]  # type: ignore[attr-defined]
    response = client.get(
        "/addin/manifest.xml", HTTP_HOST=host, secure=scheme == "https"
    )
    assert response.status_code == 200
    # An XMLResource keeps each element's namespace context, which xsi:type values
    # ("MailApp", "VersionOverridesV1_1", ...) need once elements are taken out.
    return Served(xmlschema.XMLResource(response.content.decode()), scheme, host)


@pytest.fixture(params=SERVED_AS, ids=["http-dev", "https-other-port"])
def manifest_as_served(
    request: pytest.FixtureRequest, client: Client, settings: object
) -> Served:
    return served_manifest(client, settings, *request.param)


def host_v11(root: Element) -> Element:
    [host] = root.iter(f"{V11}Host")
    return host


def take_out_runtimes(root: Element) -> Element:
    """<Runtimes> is MailHost's first child since event-based activation (Mailbox 1.10);
    the published MailAppVersionOverridesV1_1.xsd has no such child, so it is validated
    on its own against the supplement."""
    host = host_v11(root)
    [runtimes] = host.findall(f"{V11}Runtimes")
    host.remove(runtimes)
    return runtimes


def errors(schema: xmlschema.XMLSchema, source: object) -> list[str]:
    return [f"{error.path}: {error.reason}" for error in schema.iter_errors(source)]  # type: ignore[arg-type]


def test_the_manifest_validates_against_microsofts_xsds(
    manifest_as_served: Served,
) -> None:
    """Everything but event-based activation, against Microsoft's files alone."""
    resource = manifest_as_served.resource
    root = resource.root
    take_out_runtimes(root)
    # The LaunchEvent extension point's xsi:type is unknown to the published 1.1 schema:
    # it is the one element besides <Runtimes> taken out here (checked in the next test).
    [form_factor] = host_v11(root).findall(f"{V11}DesktopFormFactor")
    launch = [
        point
        for point in form_factor.findall(f"{V11}ExtensionPoint")
        if point.get(XSI_TYPE) == "LaunchEvent"
    ]
    assert len(launch) == 1
    form_factor.remove(launch[0])

    assert errors(office_schema(with_event_based_activation=False), resource) == []


def test_the_launch_event_part_has_microsofts_documented_structure(
    client: Client, manifest_as_served: Served
) -> None:
    resource, scheme, host = manifest_as_served
    root = resource.root
    schema = office_schema(with_event_based_activation=True)
    host_element = host_v11(root)
    # MailHost's sequence in [MS-OWEMXML]: Runtimes, then DesktopFormFactor.
    assert [child.tag for child in host_element] == [
        f"{V11}Runtimes",
        f"{V11}DesktopFormFactor",
    ]
    runtimes = take_out_runtimes(root)
    # The LaunchEvent extension point (LaunchEvents, then SourceLocation; Type and
    # FunctionName required; SendMode one of PromptUser, SoftBlock, Block) is validated
    # in place, the rest of the manifest with it; <Runtimes> on its own.
    assert errors(schema, resource) == []
    assert errors(schema, runtimes) == []

    # Outlook supports one runtime, with one JavaScript-only override (classic Outlook on
    # Windows); the launch event's SourceLocation names the runtime's own page.
    [runtime] = runtimes
    [override] = runtime
    launch = root.find(f".//{V11}ExtensionPoint[@{XSI_TYPE}='LaunchEvent']")
    assert launch is not None
    [event] = launch.iterfind(f"{V11}LaunchEvents/{V11}LaunchEvent")
    assert (event.get("Type"), event.get("SendMode")) == ("OnMessageSend", "SoftBlock")
    source = launch.find(f"{V11}SourceLocation")
    assert source is not None and source.get("resid") == runtime.get("resid")

    # Smart Alerts (OnMessageSend with SendMode) need Mailbox 1.12.
    v11 = root.find(f"{V10}VersionOverrides/{V11}VersionOverrides")
    assert v11 is not None
    sets = v11.find(f"{V11}Requirements/{BT}Sets")
    assert sets is not None and sets.get("DefaultMinVersion") == "1.12"

    # Every resid of the 1.1 block names a resource of its kind in the 1.1 block's own
    # Resources (resid is only a string to the XSDs).
    resources = {
        kind: {
            item.get("id"): item.get("DefaultValue")
            for item in v11.iterfind(f"{V11}Resources/{BT}{kind}/*")
        }
        for kind in ["Images", "Urls", "ShortStrings", "LongStrings"]
    }
    kind_of = {
        "Image": "Images",
        "SourceLocation": "Urls",
        "Runtime": "Urls",
        "Override": "Urls",
        "Label": "ShortStrings",
        "Title": "ShortStrings",
        "Description": "LongStrings",
    }
    references = [
        (element.tag.split("}")[1], element.get("resid"))
        for tree in (v11, runtimes)  # <Runtimes> was taken out of the tree above
        for element in tree.iter()
        if element.get("resid")
    ]
    assert {name for name, _ in references} == set(kind_of)
    for name, resid in references:
        assert resid in resources[kind_of[name]], (name, resid)

    # The runtime's page and its override script are served over the manifest's own
    # scheme and host, the page loads the script, and the script registers the handler
    # under the manifest's FunctionName.
    page_url = resources["Urls"][runtime.get("resid")]
    script_url = resources["Urls"][override.get("resid")]
    assert page_url is not None and script_url is not None
    for url in (page_url, script_url):
        assert url.startswith(f"{scheme}://{host}/"), url
    page = served(
        client, urlsplit(page_url).path, HTTP_HOST=host, secure=scheme == "https"
    )
    script = served(client, urlsplit(script_url).path)
    assert page is not None and script is not None
    assert f'src="{urlsplit(script_url).path}"' in page.decode()
    function = event.get("FunctionName")
    assert re.search(rf'associate\("{function}",', script.decode())


def test_the_validation_catches_what_outlook_would_refuse(
    client: Client, settings: object
) -> None:
    """The checks above can fail: each of these manifests is one Outlook refuses."""
    resource = served_manifest(client, settings, *SERVED_AS[1]).resource
    schema = office_schema(with_event_based_activation=True)
    take_out_runtimes(resource.root)
    assert errors(schema, resource) == []

    def broken(change: object) -> list[str]:
        mutated = copy.deepcopy(resource)
        change(mutated.root)  # type: ignore[operator]
        return errors(schema, mutated)

    def pin_in_v10(root: Element) -> None:
        # SupportsPinning belongs to VersionOverrides 1.1; in 1.0 it is an error.
        action = root.find(f"{V10}VersionOverrides//{V10}Action")
        assert action is not None
        action.append(Element(f"{V10}SupportsPinning"))

    def unknown_send_mode(root: Element) -> None:
        event = root.find(f".//{V11}LaunchEvent")
        assert event is not None
        event.set("SendMode", "Soft")

    def no_function(root: Element) -> None:
        event = root.find(f".//{V11}LaunchEvent")
        assert event is not None
        del event.attrib["FunctionName"]

    def empty_icon_url(root: Element) -> None:
        image = root.find(f".//{BT}Image[@id]")
        assert image is not None
        image.set("DefaultValue", "")

    for change in (pin_in_v10, unknown_send_mode, no_function, empty_icon_url):
        assert broken(change), change.__name__
