from __future__ import annotations

from tracking import rewriting
from tracking.tests.conftest import HTML


def _rewrite(source: str) -> tuple[str, list[str]]:
    found = rewriting.find_links(source)
    html = rewriting.rewrite_links(
        source, found, lambda f: f"https://t.example/c/{f.position}"
    )
    return html, [f.url for f in found]


def test_it_rewrites_only_http_links_and_keeps_every_other_byte() -> None:
    html, urls = _rewrite(HTML)
    assert urls == [
        "https://acme.example/proposal?x=1&y=2",
        "http://acme.example/pricing",
    ]
    expected = HTML.replace(
        '"https://acme.example/proposal?x=1&amp;y=2"', '"https://t.example/c/1"'
    ).replace("'http://acme.example/pricing'", '"https://t.example/c/2"')
    assert html == expected


def test_it_keeps_odd_markup_intact() -> None:
    source = (
        "<!DOCTYPE html>\r\n<!--[if mso]><table><![endif]-->\r\n"
        "<A CLASS=btn HREF=https://x.example/a TARGET=_blank>Go &amp; see</A>\n"
        "<area shape=rect href = 'https://x.example/b'>"
        '<a name="no-href">n</a><a href="  HTTPS://x.example/c  ">c</a>'
        "<a href=/relative>r</a><script>var a='<a href=\"https://no.example\">';</script>"
    )
    html, urls = _rewrite(source)
    assert urls == ["https://x.example/a", "https://x.example/b", "HTTPS://x.example/c"]
    assert html == (
        "<!DOCTYPE html>\r\n<!--[if mso]><table><![endif]-->\r\n"
        '<A CLASS=btn HREF="https://t.example/c/1" TARGET=_blank>Go &amp; see</A>\n'
        '<area shape=rect href = "https://t.example/c/2">'
        '<a name="no-href">n</a><a href="https://t.example/c/3">c</a>'
        "<a href=/relative>r</a><script>var a='<a href=\"https://no.example\">';</script>"
    )


def test_plain_text_and_broken_html_do_not_crash() -> None:
    for source in [
        "Just text, see https://acme.example/x",
        "<a href='https://a.example/x' <b>broken",
        "<<<>>> </a> <a href=",
        '<p><a href="https://a.example/y">unclosed',
        "",
        "\x00\ufffd<a\n href\n=\n'https://a.example/z'\n>multi\nline</a>",
    ]:
        html, urls = _rewrite(source)
        assert isinstance(html, str)
        for url in urls:
            assert url not in html


def test_the_pixel_goes_before_the_body_end_or_at_the_end() -> None:
    assert rewriting.insert_before_body_end("<body>x</BODY>", "P") == "<body>xP</BODY>"
    assert rewriting.insert_before_body_end("text", "P") == "textP"
