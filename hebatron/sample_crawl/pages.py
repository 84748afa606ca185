"""Sites, their boilerplate and the HTML around a page body.

All domains are invented and end in the reserved ``.example`` TLD. Three layouts (a modern portal,
an old table-era site with ``<br>`` paragraphs, a blog) give the boilerplate variety an extractor
has to cope with: menus, breadcrumbs, "most read" lists, related links, ads, cookie banners, footers.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Literal

Lang = Literal["he", "yi", "ar", "en"]
Layout = Literal["portal", "classic", "blog"]
Charset = Literal["utf-8", "windows-1255"]


@dataclass(frozen=True, slots=True)
class Site:
    domain: str
    name: str
    lang: Lang
    layout: Layout
    charset: Charset
    sections: tuple[str, ...]
    menu: str = "news"  # which menu of UI[lang] the header shows


# Hand-written UI strings and menus per language / site family (hebatron/sample_data/ui.json).
_UI_DATA = json.loads((Path(__file__).resolve().parent.parent / "sample_data" / "ui.json").read_text("utf-8"))
UI: dict[str, dict[str, str]] = _UI_DATA["ui"]
MENUS: dict[str, list[list[str]]] = _UI_DATA["menus"]

_NEWS_SECTIONS = ("news", "politics", "economy", "culture", "health", "consumer")
NEWS_SITES = (  # (site, share of news pages); the two legacy sites serve windows-1255 (15%)
    (Site("www.hadashot-hayom.example", "חדשות היום", "he", "portal", "utf-8", _NEWS_SECTIONS), 0.30),
    (Site("www.mabat-news.example", "מבט", "he", "blog", "utf-8", _NEWS_SECTIONS), 0.20),
    (Site("news.kol-hair.example", "קול העיר", "he", "classic", "utf-8", _NEWS_SECTIONS), 0.20),
    (Site("www.yoman-boker.example", "יומן בוקר", "he", "portal", "utf-8", _NEWS_SECTIONS), 0.15),
    (Site("www.itonet.example", "עיתונט", "he", "classic", "windows-1255", _NEWS_SECTIONS), 0.08),
    (Site("www.hamekomon.example", "המקומון", "he", "blog", "windows-1255", _NEWS_SECTIONS), 0.07),
)
TORAH_SITES = (
    Site(
        "www.beit-hamidrash.example",
        "בית המדרש",
        "he",
        "blog",
        "utf-8",
        ("tanakh", "mishnah", "zohar"),
        "torah",
    ),
    Site(
        "www.sifriya-toranit.example",
        "הספרייה התורנית",
        "he",
        "portal",
        "utf-8",
        ("tanakh", "mishnah", "zohar"),
        "torah",
    ),
)
SPAM_SITES = (
    Site(
        "www.halvaot-express.example",
        "הלוואות אקספרס",
        "he",
        "blog",
        "utf-8",
        ("articles", "services"),
        "spam",
    ),
    Site("www.mivtzaim-hamim.example", "מבצעים חמים", "he", "portal", "utf-8", ("deals", "articles"), "spam"),
    Site("www.meida-plus.example", "מידע פלוס", "he", "classic", "utf-8", ("articles", "guides"), "spam"),
)
YIDDISH_SITE = Site("www.yidishe-velt.example", "ייִדישע װעלט", "yi", "portal", "utf-8", ("news", "culture"), "yi")
ARABIC_SITE = Site("www.akhbar-albalad.example", "أخبار البلد", "ar", "portal", "utf-8", ("local", "culture"), "ar")
ENGLISH_SITE = Site("notes.pyreference.example", "Python Notes", "en", "blog", "utf-8", ("reference", "blog"), "en")


@dataclass(slots=True)
class Page:
    """Everything a layout needs; ``links`` titles fill "most read" and "related" lists."""

    site: Site
    path: str
    headline: str
    paragraphs: tuple[str, ...]
    published: str
    updated: str | None = None
    links: list[tuple[str, str]] = field(default_factory=list)
    near_empty: bool = False


def meta_charset(charset: Charset) -> str:
    if charset == "utf-8":
        return '<meta charset="utf-8">'
    return f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">'


def encode(html: str, charset: Charset) -> bytes:
    """The page's bytes; characters the charset lacks become numeric references, as old CMSs wrote them."""
    return html.encode(charset, errors="xmlcharrefreplace")


def _e(text: str) -> str:
    return escape(text, quote=False)


def _links(items: list[tuple[str, str]], tag: str = "ul") -> str:
    lis = "".join(f'<li><a href="{href}">{_e(title)}</a></li>' for title, href in items)
    return f"<{tag}>{lis}</{tag}>"


def _menu(site: Site) -> list[tuple[str, str]]:
    return [(UI[site.lang]["home"], "/")] + [(label, f"/{slug}/") for label, slug in MENUS[site.menu]]


def _head(page: Page, charset: Charset, rng: random.Random) -> str:
    title = f"{page.headline} | {page.site.name}" if page.headline else page.site.name
    direction = "ltr" if page.site.lang == "en" else "rtl"
    return (
        f'<!DOCTYPE html>\n<html dir="{direction}" lang="{page.site.lang}">\n'
        f"<head>\n{meta_charset(charset)}\n"
        f"<title>{_e(title)}</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta property="og:title" content="{escape(page.headline)}">\n'
        f'<link rel="canonical" href="https://{page.site.domain}{page.path}">\n'
        f'<link rel="stylesheet" href="/static/css/site.{rng.randrange(16**6):06x}.css">\n'
        "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}"
        f"gtag('js',new Date());gtag('config','G-{rng.randrange(16**8):08X}');</script>\n</head>\n"
    )


def _byline(page: Page, ui: dict[str, str]) -> str:
    updated = f" | {ui['updated']}: {page.updated}" if page.updated else ""
    return f"{ui['by']} {ui['staff']} | {ui['published']}: {page.published}{updated}"


def _footer_text(page: Page, ui: dict[str, str]) -> str:
    return f"© {page.published[6:10]} {page.site.name} – {ui['rights']}"


def _cookie(ui: dict[str, str], rng: random.Random) -> str:
    if rng.random() < 0.5:
        return ""
    return (
        f'<div id="cookie-banner" class="cookie-consent"><p>{_e(ui["cookie"])}</p>'
        f"<button>{_e(ui['ok'])}</button></div>\n"
    )


def _portal(page: Page, ui: dict[str, str], rng: random.Random) -> str:
    section = page.path.strip("/").split("/")[0]
    paras = "\n".join(f"<p>{_e(p)}</p>" for p in page.paragraphs)
    half = len(page.links) // 2
    side = (
        ""
        if page.near_empty
        else (
            f'<section class="related"><h3>{_e(ui["related"])}</h3>{_links(page.links[half:])}</section>\n'
            f'</main>\n<aside class="most-read"><h3>{_e(ui["most_read"])}</h3>'
            f"{_links(page.links[:half], 'ol')}</aside>\n"
            f'<div class="ad-slot" data-slot="sidebar-{rng.randrange(1, 9)}">{_e(ui["advert"])}</div>\n'
        )
    )
    return (
        f'<body class="article-page">\n<header class="site-header">'
        f'<a class="logo" href="/">{_e(page.site.name)}</a>\n'
        f'<nav class="main-nav">{_links(_menu(page.site))}</nav>\n'
        f'<form class="search" action="/search"><input name="q" placeholder="{_e(ui["search"])}">'
        "</form></header>\n"
        f'<div class="breadcrumbs"><a href="/">{_e(ui["home"])}</a> &gt; '
        f'<a href="/{section}/">{section}</a></div>\n'
        f"<main>\n<article>\n<h1>{_e(page.headline)}</h1>\n"
        + ("" if page.near_empty else f'<div class="byline">{_e(_byline(page, ui))}</div>\n')
        + f"{paras}\n"
        + (
            ""
            if page.near_empty
            else f'<div class="share">{_e(ui["share"])}: <a href="#fb">Facebook</a> <a href="#w">WhatsApp</a></div>\n'
        )
        + "</article>\n"
        + (side or "</main>\n")
        + f'<footer class="site-footer"><p>{_e(_footer_text(page, ui))}</p>\n'
        f'<a href="/about/">{_e(ui["about"])}</a> | <a href="/contact/">{_e(ui["contact"])}</a> | '
        f'<a href="/privacy/">{_e(ui["privacy"])}</a> | <a href="/terms/">{_e(ui["terms"])}</a></footer>\n'
        + _cookie(ui, rng)
    )


def _classic(page: Page, ui: dict[str, str], rng: random.Random) -> str:
    menu = " | ".join(f'<a href="{href}">{_e(label)}</a>' for label, href in _menu(page.site))
    text = "<br><br>\n".join(_e(p) for p in page.paragraphs)
    links = "".join(f'<tr><td class="lnk"><a href="{href}">{_e(t)}</a></td></tr>' for t, href in page.links)
    side = (
        ""
        if page.near_empty
        else (
            f'<td id="side" valign="top" width="200"><b>{_e(ui["most_read"])}</b><table>{links}</table>'
            f'<div class="banner"><a href="/ads/click?id={rng.randrange(10**5)}">'
            f"{_e(ui['advert'])}</a></div></td>"
        )
    )
    return (
        f'<body bgcolor="#ffffff">\n<div id="wrapper"><table id="top" width="100%"><tr><td class="logo">'
        f'<a href="/"><img src="/images/logo.gif" alt="{escape(page.site.name)}"></a></td>'
        f'<td class="date">{page.published[:10]}</td></tr></table>\n<div id="menu">{menu}</div>\n'
        f'<table id="content" width="100%"><tr><td id="main" valign="top">\n'
        f'<div class="title"><h2>{_e(page.headline)}</h2></div>\n'
        + ("" if page.near_empty else f'<div class="author">{_e(_byline(page, ui))}</div>\n')
        + f'<div class="txt">{text}</div>\n</td>{side}</tr></table>\n'
        f'<div id="bottom">{_e(_footer_text(page, ui))} | <a href="/contact.asp">{_e(ui["contact"])}</a> | '
        f'<a href="/terms.asp">{_e(ui["terms"])}</a></div></div>\n'
    )


def _blog(page: Page, ui: dict[str, str], rng: random.Random) -> str:
    paras = "\n".join(f"<p>{_e(p)}</p>" for p in page.paragraphs)
    tail = (
        ""
        if page.near_empty
        else (
            f'<div class="post-meta">{_e(ui["comments"])} ({rng.randrange(0, 60)})</div>\n'
            f'<div class="widget related-posts"><h4>{_e(ui["related"])}</h4>{_links(page.links)}</div>\n'
            f'<div class="widget newsletter"><a href="/subscribe/">{_e(ui["newsletter"])}</a></div>\n'
        )
    )
    return (
        f'<body class="single-post">\n<div class="topbar"><a href="/">{_e(page.site.name)}</a></div>\n'
        f'<nav id="site-navigation">{_links(_menu(page.site))}</nav>\n'
        f'<div id="content"><div class="post">\n<h1 class="entry-title">{_e(page.headline)}</h1>\n'
        + ("" if page.near_empty else f'<span class="posted-on">{_e(_byline(page, ui))}</span>\n')
        + f'<div class="entry-content">\n{paras}\n</div>\n</div>\n{tail}</div>\n'
        f'<footer id="colophon"><div class="site-info">{_e(_footer_text(page, ui))}</div>'
        f'<a href="/privacy-policy/">{_e(ui["privacy"])}</a></footer>\n' + _cookie(ui, rng)
    )


LAYOUTS = {"portal": _portal, "classic": _classic, "blog": _blog}


def render(page: Page, charset: Charset, rng: random.Random) -> str:
    ui = UI[page.site.lang]
    body = LAYOUTS[page.site.layout](page, ui, rng)
    return _head(page, charset, rng) + body + "</body>\n</html>\n"
