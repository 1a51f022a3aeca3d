"""What the offline planner reads in a request: clauses, the node each one names, and the values
(URIs, URLs, field names, formats) written in it. Plain word matching, no model: deterministic.

A node's vocabulary is its type, label and tags (strong), its description and data types (weak),
and a few synonyms kept here; words are compared by a crude stem (``validates`` ~ ``validator``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dagy.nodes.model import NodeDef

# Words people use for a node that its registry text does not hold.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "s3_ingest": ("read", "download", "pull", "ingest", "bucket", "source", "input"),
    "s3_write": ("write", "save", "upload", "store", "put", "export", "persist", "dump", "output"),
    "http_fetch": ("url", "endpoint", "api", "get", "call", "download", "rest", "http", "https"),
    "schema_validator": ("validate", "validation", "verify", "check", "schema", "require"),
    "data_normalizer": ("normalize", "normalise", "standardize", "standardise", "clean", "tidy"),
    "deduplicator": ("dedupe", "dedup", "deduplicate", "duplicate", "unique", "distinct"),
    "python_function": ("python", "function", "script", "code", "custom"),
    "webhook_post": ("webhook", "notify", "callback", "post", "ping", "hook"),
}
STOPWORDS = frozenset(
    """a an the and or then to from into onto of in on at it its them this that these those
    with for by as is are be do does please i me my we our you your can could would should
    will build create make set up workflow pipeline flow dag each all every some data back
    also which what how why when where who step steps node nodes after before first last
    next finally using use via over new""".split()  # noqa: SIM905
)
_SUFFIXES = tuple(
    """ations ation izers izer ators ator ating ates ated ate izing izes ized ize ises ised ise
    ions ion ing es ed s e""".split()  # noqa: SIM905
)
_WORD = re.compile(r"[a-z0-9]+")
_TOKEN = re.compile(r"[a-z0-9_]+")
URI = re.compile(r"(?:s3|file|https?)://[^\s,;'\"<>()\[\]]+", re.IGNORECASE)
_CLAUSE_BREAK = re.compile(
    r"(?:[,;!?\n]|(?<!\w):|:(?!\w)|\.(?:\s|$)|->|→|\bthen\b|\band\b|\bplus\b)", re.I
)
_TARGET = re.compile(r"[A-Za-z_][\w./-]*\.py:[A-Za-z_]\w*|[A-Za-z_][\w.]*:[A-Za-z_]\w*")
SOURCE_WORDS = ("from", "in", "read", "reads", "fetch", "fetches", "pull", "ingest", "download")
SINK_WORDS = tuple(
    """to into onto back write writes save store upload export post send""".split()  # noqa: SIM905
)
# "need to", "want to" say nothing about where data goes
_NOT_A_DIRECTION = re.compile(
    r"\b(?:need|needs|want|wants|have|has|how|going|used|able|like)\s+to\b"
)
# Registry words too common in requests to name a node ("customer" would read as "custom").
IGNORED = frozenset({"custom"})


def stem(word: str) -> str:
    word = word.lower()
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


# Verbs many nodes could do weigh less than what names one ("read from an API" is HTTP Fetch).
GENERIC = frozenset(
    stem(w)
    for w in [
        "read",
        "write",
        "save",
        "get",
        "call",
        "post",
        "put",
        "store",
        "input",
        "output",
        "source",
        "download",
        "pull",
        "export",
    ]
)


def words(text: str) -> list[str]:
    """The words that may name a node: not stopwords, and not field names like ``customer_id``
    (kept whole, so ``customer`` does not read as ``custom``)."""
    return [w for w in _TOKEN.findall(text.lower()) if w not in STOPWORDS]


def same(a: str, b: str) -> bool:
    """Two stems match when equal, or one starts the other and is at least 5 letters long."""
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= 5 and long_.startswith(short)


def vocabulary(node: NodeDef) -> dict[str, float]:
    """Stem -> weight: type, label, tags, synonyms 3; description 1; data types 0.5."""
    vocab: dict[str, float] = {}

    def add(text: str, weight: float) -> None:
        for w in _WORD.findall(text.lower()):
            if w in STOPWORDS:
                continue
            s = stem(w)
            vocab[s] = max(vocab.get(s, 0.0), weight)

    for c in node.connectors:
        for t in c.data_types:
            if t != "any":
                add(t, 0.5)
    add(node.description, 1.0)
    add(node.node_type.replace("_", " "), 3.0)
    add(node.label, 3.0)
    for tag in (*node.tags, *SYNONYMS.get(node.node_type, ())):
        add(tag, 3.0)
    return {k: min(v, 2.0) if k in GENERIC else v for k, v in vocab.items() if k not in IGNORED}


def is_source(node: NodeDef) -> bool:
    """Takes no data: only a trigger comes in (s3_ingest, http_fetch)."""
    inbound = [c for c in node.connectors if c.direction == "inbound"]
    return bool(inbound) and all("trigger" in c.data_types for c in inbound)


def is_sink(node: NodeDef) -> bool:
    """Sends data out of the pipeline: writes or notifies."""
    return not is_source(node) and node.category in ("ingestion", "notification")


def score(text: str, node: NodeDef, vocab: dict[str, float], extra: float = 0.0) -> float:
    """How strongly ``text`` names ``node``: the best weight each word finds, summed, plus a
    bonus for a direction word that fits (``from`` for a source, ``to`` for a sink)."""
    total = 0.0
    for w in words(text):
        if "_" in w:
            total += 6.0 if w == node.node_type else 0.0  # "add an s3_write step"
            continue
        s = stem(w)
        total += max((weight for v, weight in vocab.items() if same(s, v)), default=0.0)
    total += extra
    if total <= 0:
        return 0.0
    raw = set(_WORD.findall(_NOT_A_DIRECTION.sub(" ", text.lower())))
    if is_source(node) and raw & set(SOURCE_WORDS):
        total += 2.0
    if is_sink(node) and raw & set(SINK_WORDS):
        total += 2.0
    return total


@dataclass
class Clause:
    start: int
    text: str


@dataclass
class Mention:
    """A node the request names, and the text that talks about it (to read its values from)."""

    node_type: str
    start: int
    text: str
    uris: list[str] = field(default_factory=list)


THRESHOLD = 3.0


def clauses(message: str) -> list[Clause]:
    """The message cut at commas, ``and``, ``then``, arrows and sentence ends (URIs kept whole)."""
    keep = lambda m: "u" * len(m.group(0))  # noqa: E731
    protected = _TARGET.sub(keep, URI.sub(keep, message))  # keep URIs and targets whole
    out: list[Clause] = []
    start = 0
    for m in _CLAUSE_BREAK.finditer(protected):
        if m.start() > start:
            out.append(Clause(start, message[start : m.start()]))
        start = m.end()
    if start < len(message):
        out.append(Clause(start, message[start:]))
    return [c for c in out if c.text.strip()]


def best_node(
    text: str, nodes: dict[str, NodeDef], vocabs: dict[str, dict[str, float]]
) -> tuple[str | None, float]:
    """The node ``text`` names best (ties: the first in ``nodes``' order), or None below the bar."""
    best: str | None = None
    best_score = 0.0
    stripped = _TARGET.sub(" ", URI.sub(" ", text))
    names_code = bool(_TARGET.search(URI.sub(" ", text)))
    schemes = {u.split(":", 1)[0].lower() for u in URI.findall(text)}
    for node_type, node in nodes.items():
        vocab = vocabs[node_type]
        # "from https://..." is an HTTP fetch, "in s3://..." an S3 step
        hint = ("s3" in schemes and "s3" in vocab) or bool(
            schemes & {"http", "https"} and "http" in vocab
        )
        s = score(stripped, node, vocab, 4.0 if hint else 0.0)
        if names_code and node_type == "python_function":  # "run etl/clean.py:tidy"
            s += 6.0
        if s > best_score:
            best, best_score = node_type, s
    return (best, best_score) if best_score >= THRESHOLD else (None, best_score)


_MORE = frozenset(
    [
        "keep",
        "keeping",
        "latest",
        "last",
        "first",
        "newest",
        "oldest",
        "required",
        "field",
        "fields",
        "column",
        "columns",
        "key",
        "keys",
        "records",
        "record",
        "them",
        "it",
    ]
)


def continues(text: str) -> bool:
    """Whether a clause that names no node only goes on with the one before ("customer_id
    keeping the latest", "email"), rather than asking for something not understood."""
    fields = set(field_list(text))
    rest = [w for w in _TOKEN.findall(URI.sub(" ", text)) if w not in STOPWORDS]
    return all(w in fields or w in _MORE for w in rest)


def _also_named(
    clause: Clause, first: str, nodes: dict[str, NodeDef], vocabs: dict[str, dict[str, float]]
) -> list[Mention]:
    """Other nodes one clause names with words the first node does not use ("an S3 validation
    workflow": s3_ingest, then schema_validator). A clause names at most one source."""
    text = _TARGET.sub(" ", URI.sub(" ", clause.text))
    left = [
        w for w in words(text) if "_" not in w and not any(same(stem(w), v) for v in vocabs[first])
    ]
    out: list[Mention] = []
    taken = [first]
    while left:
        scores = {
            t: sum(max((wt for v, wt in vocabs[t].items() if same(stem(w), v)), default=0.0)
            for w in left)
            for t in nodes
            if t not in taken and not (is_source(nodes[t]) and is_source(nodes[first]))
        }  # fmt: skip
        for t in scores:  # "write ... after you read ...": the verb says which way
            if (is_sink(nodes[t]) and set(left) & set(SINK_WORDS)) or (
                is_source(nodes[t]) and set(left) & set(SOURCE_WORDS)
            ):
                scores[t] += 2.0 if scores[t] > 0 else 0.0
        best = max(scores, key=lambda t: scores[t], default=None)
        if best is None or scores[best] < THRESHOLD:
            break
        taken.append(best)
        left = [w for w in left if not any(same(stem(w), v) for v in vocabs[best])]
        out.append(Mention(best, _where(clause, vocabs[best]), clause.text))
    return out


def _where(clause: Clause, vocab: dict[str, float]) -> int:
    """Where in the message the clause first uses a word of ``vocab`` (its start otherwise)."""
    blank = URI.sub(lambda u: " " * len(u.group(0)), clause.text.lower())
    for m in _TOKEN.finditer(_TARGET.sub(lambda u: " " * len(u.group(0)), blank)):
        w = m.group(0)
        if w not in STOPWORDS and "_" not in w and any(same(stem(w), v) for v in vocab):
            return clause.start + m.start()
    return clause.start


def _start(m: Mention) -> int:
    return m.start


def mentions(message: str, nodes: dict[str, NodeDef]) -> tuple[list[Mention], list[str]]:
    """The nodes named, in the order named, each with the text up to the next one; and the
    clauses that named nothing (reported back as not understood)."""
    vocabs = {t: vocabulary(n) for t, n in nodes.items()}
    found: list[Mention] = []
    unread: list[str] = []
    for clause in clauses(message):
        node_type, _ = best_node(clause.text, nodes, vocabs)
        if node_type is None:
            if found:
                found[-1].text += " " + clause.text  # "by order_id and customer_id" continues
            if not continues(clause.text):
                unread.append(clause.text.strip())
            continue
        first = Mention(node_type, _where(clause, vocabs[node_type]), clause.text)
        found += sorted([first, *_also_named(clause, node_type, nodes, vocabs)], key=_start)
    # each URI goes to the step named last before it (the first step when none is)
    for u in URI.finditer(message):
        owner = next(
            (m for m in reversed(found) if m.start <= u.start()), found[0] if found else None
        )
        if owner is not None:
            owner.uris.append(u.group(0).rstrip("."))
    return found, unread


# -- values written in the request ----------------------------------------------------------------

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_LIST_STOP = frozenset(
    """then and or the a an to into from with keep keeping write writes save post send
    normalize validate dedupe deduplicate""".split()  # noqa: SIM905
)


def field_list(text: str) -> list[str]:
    """``order_id, customer_id and email`` -> the identifiers, stopping at the first other word."""
    out: list[str] = []
    for token in re.split(r"\s*(?:,|&|/|\band\b|\bor\b)\s*|\s+", text.strip()):
        token = token.strip("`'\".()")
        if not token:
            continue
        if token.lower() in ("field", "fields", "column", "columns", "key", "keys"):
            continue
        if token.lower() in _LIST_STOP or token.lower() in STOPWORDS or not _IDENT.match(token):
            if out:
                break
            continue
        out.append(token)
    return out


def keys_in(text: str) -> list[str]:
    """Dedupe keys: ``by order_id``, ``on customer_id``, ``keys a, b``, ``key field id``."""
    m = re.search(r"\b(?:by|on|using|keys?|key fields?)\s+(.+)", text, re.I)
    return field_list(m.group(1)) if m else []


def required_fields(text: str) -> list[str]:
    """``required fields a, b`` / ``requires a and b`` / ``fields a, b are required``."""
    m = re.search(r"\brequir(?:ed|es|e|ing)\s+(?:fields?|columns?|keys?)?\s*(.+)", text, re.I)
    if m:
        return field_list(m.group(1))
    m = re.search(r"\b(?:fields?|columns?)\s+(.+?)\s+(?:are|is)\s+required\b", text, re.I)
    if m:
        return field_list(m.group(1))
    m = re.search(r"\bmust have\s+(.+)", text, re.I)
    return field_list(m.group(1)) if m else []


def renames_in(text: str) -> dict[str, str]:
    """``rename a to b`` (several: ``rename a to b, c to d``)."""
    out: dict[str, str] = {}
    m = re.search(r"\brenam\w*\s+(.+)", text, re.I)
    if not m:
        return out
    for a, b in re.findall(r"([A-Za-z_][\w.]*)\s+(?:to|->|as)\s+([A-Za-z_][\w.]*)", m.group(1)):
        out[a] = b
    return out


FORMATS = {
    "json": "json",
    "ndjson": "ndjson",
    "jsonl": "ndjson",
    "csv": "csv",
    "parquet": "parquet",
}


def format_in(text: str) -> str | None:
    for w in _WORD.findall(text.lower()):
        if w in FORMATS:
            return FORMATS[w]
    return None


def bucket_in(text: str) -> str | None:
    """``bucket my-data`` / ``the my-data bucket``; None when no bucket name is given."""
    bad = STOPWORDS | {"s3", "same", "aws", "amazon", "that", "target", "source", "output"}
    for pattern in (
        r"\bbucket(?:\s+(?:named|called))?\s+[`'\"]?([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])",
        r"\b([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])\s+bucket\b",
    ):
        for m in re.finditer(pattern, text, re.I):
            name = m.group(1).lower()
            if name not in bad:
                return name
    return None


def python_target(text: str) -> str | None:
    """``module:function`` or ``path/file.py:function`` written in the text."""
    m = re.search(r"([A-Za-z_][\w./-]*\.py:[A-Za-z_]\w*|[A-Za-z_][\w.]*:[A-Za-z_]\w*)", text)
    if m and "://" not in text[max(0, m.start() - 3) : m.end() + 3]:
        return m.group(1)
    return None
