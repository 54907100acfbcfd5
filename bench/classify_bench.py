"""The classifier's own cost per hit, in isolation (no server, no database, no Redis).

A realistic mix of hits, seeded so every run sees the same ones: real mail clients and
browsers in many versions (most hits), Gmail's, Yahoo's and Apple's proxies, and machines
(link previews, HTTP libraries, crawlers, security gateways), from home addresses and
from Apple's and Microsoft's networks, over 1,000 emails, in time order. Each hit goes
through `tracking.classifier.classify` and `History.remember`, as in the ingestor, with
the per-agent cache as it runs (agents recur: a few hundred distinct ones).

Keys:
- classify_us_per_hit: mean CPU microseconds per hit (the lists already loaded; CPU
  time, not wall time, as the machine is shared; the best of 3 rounds);
- classify_cold_us_per_agent: matching one agent not yet cached (the per-agent cache
  emptied), per distinct agent;
- classify_lists_load_ms: loading and compiling the lists once per process;
- classify_hits, classify_agents_distinct: the workload's size.

Standalone: `DEBUG=1 .venv/bin/python bench/classify_bench.py` prints the JSON object
(`--hits N`); bench/run.py adds these keys to its own.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HITS = 50_000
EMAILS = 1_000
ROUNDS = 3  # the best of: the machine is shared


def _people(rng: random.Random) -> list[str]:
    agents = []
    for version in range(100, 132):
        agents += [
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
            f"Gecko) Chrome/{version}.0.0.0 Safari/537.36",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, "
            f"like Gecko) Chrome/{version}.0.0.0 Safari/537.36",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
            f"Gecko) Chrome/{version}.0.0.0 Safari/537.36 Edg/{version}.0.0.0",
            f"Mozilla/5.0 (Linux; Android {rng.choice([11, 12, 13, 14])}; "
            f"{rng.choice(['SM-S911B', 'Pixel 7', 'Pixel 8', 'SM-A546B'])} Build/"
            f"{rng.choice(['TP1A.220624.014', 'UD1A.231105.004'])}; wv) AppleWebKit/"
            f"537.36 (KHTML, like Gecko) Version/4.0 Chrome/{version}.0.6099.43 Mobile "
            "Safari/537.36",
        ]
    for build in range(17000, 17060):
        agents.append(
            "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 10.0; WOW64; Trident/7.0; "
            f".NET4.0C; .NET4.0E; Microsoft Outlook 16.0.{build}; ms-office; MSOffice 16)"
        )
    for ios in ("15_8", "16_6", "17_1", "17_4", "17_5", "18_0"):
        agents += [
            f"Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Mobile/15E148",
            f"Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15 "
            f"(KHTML, like Gecko) Version/{ios.split('_')[0]}.0 Mobile/15E148 Safari/604.1",
        ]
    for version in ("102.15.1", "115.5.1", "115.8.0", "128.3.0"):
        agents.append(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:"
            f"{version.split('.')[0]}.0) Gecko/20100101 Thunderbird/{version}"
        )
    agents.append(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, "
        "like Gecko)"
    )
    return agents


MACHINES = [
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 "
    "skype-url-preview@microsoft.com",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "WhatsApp/2.23.20.0 A",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "python-requests/2.31.0",
    "python-requests/2.32.3",
    "curl/8.4.0",
    "Go-http-client/1.1",
    "okhttp/4.12.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))",
    "Mozilla/5.0 (compatible; Mimecast URL Protect)",
    "Mozilla/5.0 (compatible; Proofpoint URL Defense)",
]
GMAIL = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com "
    "GoogleImageProxy)"
)
YAHOO = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"


def workload(hits: int, seed: int = 11) -> list[Any]:
    from tracking import lists
    from tracking.classifier import CLICK, OPEN, Hit

    rng = random.Random(seed)
    people = _people(rng)
    start = 1_767_000_000.0
    made = []
    for n in range(hits):
        roll = rng.random()
        if roll < 0.55:
            agent, ip = (
                rng.choice(people),
                f"198.51.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            )
        elif roll < 0.70:
            agent, ip = GMAIL, f"66.249.{rng.randrange(80, 95)}.{rng.randrange(1, 255)}"
        elif roll < 0.80:
            agent, ip = "Mozilla/5.0", f"17.{rng.randrange(256)}.{rng.randrange(256)}.9"
        elif roll < 0.83:
            agent, ip = YAHOO, f"98.136.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        elif roll < 0.90:
            agent, ip = (
                rng.choice(people),
                f"40.107.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            )
        else:
            agent, ip = (
                rng.choice(MACHINES),
                f"203.0.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            )
        click = rng.random() < 0.2
        made.append(
            Hit(
                f"{n:032x}",
                CLICK if click else OPEN,
                rng.randrange(EMAILS),
                rng.randrange(1, 4) if click else None,
                start + n * 0.05,
                ip,
                agent,
                "GET",
                "",
                None,
                lists.parse_ip(ip),
            )
        )
    return made


def run(hits: int = HITS) -> dict[str, Any]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from tracking import lists
    from tracking.classifier import EmailFacts, History, classify

    made = workload(hits)
    agents = sorted({hit.user_agent for hit in made})
    started = time.process_time()
    lists.reload_lists()
    lists.agent_facts("warm up: load and compile the lists")
    load_ms = (time.process_time() - started) * 1000
    facts = EmailFacts(1, made[0].at - 3600)
    blocked = lists.NetworkSet(["192.0.2.0/24"])
    per_hit = []
    for _ in range(ROUNDS):
        lists.agent_facts.cache_clear()  # each round meets its agents anew, as a process
        history = History()
        started = time.process_time()
        for hit in made:
            verdict, _ = classify(hit, facts, history, trap=False, blocked=blocked)
            history.remember(hit, verdict, trap=False)
        per_hit.append((time.process_time() - started) / len(made) * 1e6)
    cold = []
    for _ in range(ROUNDS):
        lists.agent_facts.cache_clear()
        started = time.process_time()
        for agent in agents:
            lists.agent_facts(agent)
        cold.append((time.process_time() - started) / len(agents) * 1e6)
    return {
        "classify_us_per_hit": round(min(per_hit), 2),
        "classify_cold_us_per_agent": round(min(cold), 1),
        "classify_lists_load_ms": round(load_ms, 1),
        "classify_hits": len(made),
        "classify_agents_distinct": len(agents),
    }


if __name__ == "__main__":
    count = (
        int(sys.argv[sys.argv.index("--hits") + 1]) if "--hits" in sys.argv else HITS
    )
    print(json.dumps(run(count)))
