"""DMARC (RFC 7489) for mail the SMTP receiver takes: is the From domain's mail really
from that domain?

`dmarc_check(raw, ip=, helo=, mail_from=)` answers a `DmarcResult`:
- SPF (pyspf) of the connecting address for the envelope sender's domain (the HELO name
  when the envelope sender is empty), and each DKIM signature (dkimpy) of the message;
- either one passing *and* aligned with the From domain (relaxed: the same
  organisational domain, by the public suffix list; strict `adkim=s`/`aspf=s`: the same
  domain) makes DMARC pass;
- `result`: `pass`; `fail` (the domain publishes DMARC and nothing aligned passed);
  `none` (the domain publishes no DMARC record: unverified); `temperror` (DNS did not
  answer, so nothing could be judged).
What the product does with each result is `activity.inbound`'s rule (SMTP route).

Every lookup goes to the resolver of `DMARC_DNS_SERVERS` (host or host:port, comma
separated; the system's resolver when empty), for SPF, DKIM and DMARC alike.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from functools import lru_cache
from typing import Any

import dkim
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver
import publicsuffix2
import spf
from django.conf import settings

DNS_TIMEOUT = 5.0
PASS, FAIL, NONE, TEMPERROR = "pass", "fail", "none", "temperror"


class DnsUnavailable(Exception):
    """DNS did not answer (timeout, no server): nothing can be judged."""


@dataclass
class DmarcResult:
    result: str  # pass, fail, none, temperror
    domain: str  # the From header's domain
    policy: str = ""  # the record's p= (none, quarantine, reject) when there is one
    spf: str = ""  # pyspf's result: pass, fail, softfail, neutral, none, ...
    spf_domain: str = ""
    dkim: list[dict[str, Any]] = field(default_factory=list)  # domain, valid, aligned
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- DNS --------------------------------------------------------------------------------


DNS_CACHE_ENTRIES = 10_000


@lru_cache(maxsize=8)
def _resolver_for(servers: str) -> dns.resolver.Resolver:
    if not servers.strip():
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = []
        for item in servers.split(","):
            host, _, port = item.strip().rpartition(":")
            if not host or "]" in port:  # no port given, or a bare IPv6 address
                host, port = item.strip(), "53"
            resolver.nameservers.append(host.strip("[]"))
            resolver.port = int(port)
    resolver.lifetime = DNS_TIMEOUT
    # Answers kept for their TTL, as any mail server's resolver does: a sender's mail
    # comes from the same domains and addresses again and again, and without it every
    # message paid its SPF, DKIM key and DMARC lookups anew (the receiver's throughput).
    resolver.cache = dns.resolver.LRUCache(DNS_CACHE_ENTRIES)
    return resolver


def resolver() -> dns.resolver.Resolver:
    return _resolver_for(settings.DMARC_DNS_SERVERS)


def _txt(name: str) -> list[bytes]:
    """Every TXT record at `name`, each one's strings joined; [] when there is none."""
    try:
        answer = resolver().resolve(name, dns.rdatatype.TXT, lifetime=DNS_TIMEOUT)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        raise DnsUnavailable(str(exc)) from exc
    return [b"".join(record.strings) for record in answer]


def _dkim_txt(name: bytes | str, timeout: float = DNS_TIMEOUT) -> bytes | None:
    """dkimpy's `dnsfunc`: the key record at `name`."""
    text = name.decode("ascii", "replace") if isinstance(name, bytes) else name
    try:
        found = _txt(text)
    except DnsUnavailable as exc:
        raise dkim.DnsTimeoutError(str(exc)) from exc
    return found[0] if found else None


def _spf_lookup(
    name: str, qtype: str, strict: bool = True, timeout: float = DNS_TIMEOUT
) -> list[tuple[tuple[str, str], Any]]:
    """pyspf's DNS hook (spf.DNSLookup), answering from `resolver()`."""
    found: list[tuple[tuple[str, str], Any]] = []
    try:
        answer = resolver().resolve(name, qtype, lifetime=timeout)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return found
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        raise spf.TempError(f"DNS {exc}") from exc
    for rdata in answer:
        value: Any
        if qtype in ("A", "AAAA"):
            value = rdata.address
        elif qtype == "MX":
            value = (rdata.preference, rdata.exchange)
        elif qtype == "PTR":
            value = rdata.target.to_text(True)
        elif qtype in ("TXT", "SPF"):
            value = rdata.strings
        else:
            continue
        found.append(((name, qtype), value))
    return found


# pyspf looks names up through this module-level hook (it is how the library picks
# between its DNS back ends); ours asks the configured resolver.
spf.DNSLookup = _spf_lookup


# -- the check --------------------------------------------------------------------------

_TAG = re.compile(r"\s*([a-z]+)\s*=\s*([^;]*)")


def _tags(record: str) -> dict[str, str]:
    return {m.group(1): m.group(2).strip() for m in _TAG.finditer(record.lower())}


def organisational_domain(domain: str) -> str:
    """The registrable domain: one label more than its public suffix (an unlisted
    top-level domain is a suffix of its own, the list's `*` rule)."""
    domain = domain.lower().rstrip(".")
    suffix = publicsuffix2.get_tld(domain, wildcard=True) or domain.rpartition(".")[2]
    labels = domain.split(".")
    size = len(suffix.split(".")) + 1
    return ".".join(labels[-size:]) if len(labels) >= size else domain


def _aligned(domain: str, from_domain: str, strict: bool) -> bool:
    domain, from_domain = domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    if strict:
        return domain == from_domain
    return organisational_domain(domain) == organisational_domain(from_domain)


def _dmarc_record(domain: str) -> dict[str, str] | None:
    """The From domain's record, else its organisational domain's (RFC 7489 6.6.3)."""
    for name in dict.fromkeys([domain, organisational_domain(domain)]):
        for text in _txt(f"_dmarc.{name}"):
            decoded = text.decode("utf-8", "replace")
            if decoded.lower().replace(" ", "").startswith("v=dmarc1"):
                return _tags(decoded)
    return None


def _header_section(raw: bytes) -> bytes:
    """`raw` up to and including an empty line that ends its headers, or all of it:
    the header parser then reads the headers alone, not the body line by line. The
    first CRLF CRLF or LF LF is an empty line at or after the one the parser stops at,
    so it reads exactly the same headers."""
    ends = [
        found + len(blank)
        for blank in (b"\r\n\r\n", b"\n\n")
        if (found := raw.find(blank)) >= 0
    ]
    return raw[: min(ends)] if ends else raw


def _from_domain(raw: bytes) -> str:
    headers = BytesHeaderParser(policy=compat32).parsebytes(_header_section(raw))
    addresses = getaddresses([str(v) for v in headers.get_all("From") or []])
    for _, address in addresses:
        if "@" in address:
            return address.rpartition("@")[2].strip().lower().rstrip(">")
    return ""


def _dkim_results(raw: bytes, from_domain: str, strict: bool) -> list[dict[str, Any]]:
    verifier = dkim.DKIM(raw, timeout=int(DNS_TIMEOUT))
    signatures = [
        value for name, value in verifier.headers if name.lower() == b"dkim-signature"
    ]
    results = []
    for index, value in enumerate(signatures):
        tags = _tags(value.decode("ascii", "replace").replace("\r\n", ""))
        domain = tags.get("d", "")
        try:
            valid = bool(verifier.verify(idx=index, dnsfunc=_dkim_txt))
        except dkim.DnsTimeoutError as exc:
            raise DnsUnavailable(str(exc)) from exc
        except Exception:  # a malformed signature is simply not a valid one
            valid = False
        results.append(
            {
                "domain": domain,
                "valid": valid,
                "aligned": valid and _aligned(domain, from_domain, strict),
            }
        )
    return results


def dmarc_check(raw: bytes, *, ip: str, helo: str, mail_from: str) -> DmarcResult:
    """The DMARC result of one message received from `ip` (see the module's doc)."""
    from_domain = _from_domain(raw)
    if not from_domain:
        return DmarcResult(FAIL, "", detail="The From header has no domain.")
    try:
        record = _dmarc_record(from_domain)
        if record is None:
            return DmarcResult(
                NONE, from_domain, detail=f"{from_domain} publishes no DMARC record."
            )
        spf_domain = (
            mail_from.rpartition("@")[2].lower() if "@" in mail_from else helo.lower()
        )
        sender = mail_from or f"postmaster@{helo}"
        spf_result, _ = spf.check2(i=ip, s=sender, h=helo, timeout=int(DNS_TIMEOUT))
        if spf_result == "temperror":
            raise DnsUnavailable("SPF lookup failed")
        dkim_results = _dkim_results(raw, from_domain, record.get("adkim", "r") == "s")
    except DnsUnavailable as exc:
        return DmarcResult(TEMPERROR, from_domain, detail=f"DNS did not answer: {exc}")
    spf_aligned = spf_result == "pass" and _aligned(
        spf_domain, from_domain, record.get("aspf", "r") == "s"
    )
    passed = spf_aligned or any(item["aligned"] for item in dkim_results)
    policy = record.get("p", "none")
    result = DmarcResult(
        PASS if passed else FAIL,
        from_domain,
        policy=policy,
        spf=spf_result,
        spf_domain=spf_domain,
        dkim=dkim_results,
    )
    if passed:
        how = "SPF" if spf_aligned else "DKIM"
        result.detail = f"{from_domain}: DMARC passes (aligned {how})."
    else:
        result.detail = (
            f"{from_domain} publishes DMARC (p={policy}) and this message fails it: "
            f"SPF {spf_result} for {spf_domain or 'no domain'}, "
            f"{sum(1 for d in dkim_results if d['valid'])} of {len(dkim_results)} "
            "DKIM signature(s) valid, none aligned."
        )
    return result
