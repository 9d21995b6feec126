"""Plain sentences for paths: ``You rated Heat (1995) 5 stars; Heat and Ronin (1998) share the
genre Thriller``."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kgrec.schema import USER, VIDEO
from recommend.explain.graph import PathGraph
from recommend.explain.names import display_name

_VERBS = {
    "RATED": "rated", "CLICKED": "watched", "LIKED": "liked", "FINISHED": "finished",
    "SHARED": "shared", "COMMENTED": "commented on", "FOLLOWED": "followed",
    "INTERACTED": "watched",
}  # fmt: skip
_NOUNS = {
    "Genre": "genre", "Decade": "decade", "Tag": "tag", "Person": "creator",
    "Occupation": "occupation", "AgeGroup": "age group", "Gender": "gender",
    "Entity": "entity",
}  # fmt: skip
_YEAR = re.compile(r"\s*\(\d{4}\)\s*$")


@dataclass
class Hop:
    """One step of a path, ``src -> dst`` along the path (``forward``: the graph's relationship
    points the same way)."""

    src: int
    dst: int
    relation: str
    forward: bool
    rating: float
    edge: int


def _stars(r: float) -> str:
    v = f"{r:g}"
    return f"{v} star" if v == "1" else f"{v} stars"


class _Namer:
    """Names nodes in a sentence: a video's year is dropped once it has been mentioned."""

    def __init__(
        self,
        g: PathGraph,
        names: Mapping[str, Mapping[str, str]],
        user: int,
        source_label: Callable[[str], str],
    ) -> None:
        self.g, self.names, self.user, self.source_label = g, names, user, source_label
        self.seen: set[int] = set()

    def __call__(self, node: int, subject: bool = False) -> str:
        if node == self.user:
            return "You" if subject else "you"
        label = self.g.label_of(node)
        name = display_name(label, str(self.g.keys[node]), self.names, self.source_label(label))
        if label == VIDEO and node in self.seen:
            name = _YEAR.sub("", name) or name
        self.seen.add(node)
        return name


def _interaction_phrase(hop: Hop, item: str) -> str:
    verb = _VERBS.get(hop.relation, hop.relation.lower().replace("_", " "))
    if hop.relation == "RATED" and not math.isnan(hop.rating):
        return f"{verb} {item} {_stars(hop.rating)}"
    return f"{verb} {item}"


def describe(
    g: PathGraph,
    hops: list[Hop],
    names: Mapping[str, Mapping[str, str]],
    source_label: Callable[[str], str] | None = None,
) -> str:
    """A plain sentence for a path, e.g. ``You rated Heat (1995) 5 stars; Heat and Ronin (1998)
    share the genre Thriller``; users are named by the graph's own label of the user role
    (``source_label``: ``customer 153``)."""
    if not hops:
        return ""
    name = _Namer(g, names, hops[0].src, source_label or (lambda label: label))
    is_user = lambda n: g.label_of(n) == USER  # noqa: E731
    is_item = lambda n: g.label_of(n) == VIDEO  # noqa: E731
    clauses: list[str] = []
    k = 0
    while k < len(hops):
        h = hops[k]
        nxt = hops[k + 1] if k + 1 < len(hops) else None
        a, b = h.src, h.dst
        if h.relation.startswith("SIMILAR_"):
            kind = h.relation[len("SIMILAR_") :].lower()
            clauses.append(f"{name(a, True)} and {name(b)} have similar {kind} features")
            k += 1
        elif is_user(a) and is_item(b) or is_item(a) and is_user(b):
            user, item = (a, b) if is_user(a) else (b, a)
            if (
                nxt is not None
                and is_item(a)
                and is_user(b)
                and is_item(nxt.dst)
                and not nxt.relation.startswith("SIMILAR_")
            ):
                # item -> another user -> item: "user 42 rated Heat 4 stars and Ronin 5 stars"
                who = name(b, True)
                first = _interaction_phrase(h, name(a))
                second = _interaction_phrase(nxt, name(nxt.dst))
                if nxt.relation == h.relation and h.relation != "RATED":
                    second = second.split(" ", 1)[1] if " " in second else second
                clauses.append(f"{who} also {first} and {second}")
                k += 2
                continue
            clauses.append(f"{name(user, True)} {_interaction_phrase(h, name(item))}")
            k += 1
        elif nxt is not None and not is_user(b) and not is_item(b) and nxt.src == b:
            # through an attribute: "Heat and Ronin share the genre Thriller"
            noun = _NOUNS.get(g.label_of(b), g.label_of(b).lower())
            left, right = name(a, True), name(nxt.dst)
            clauses.append(f"{left} and {right} share the {noun} {name(b)}")
            k += 2
        else:
            noun = _NOUNS.get(g.label_of(b), g.label_of(b).lower())
            if not is_user(b) and not is_item(b):
                subj = name(a, True)
                verb = "have" if subj == "You" else "has"
                clauses.append(f"{subj} {verb} the {noun} {name(b)}")
            else:
                clauses.append(f"{name(a, True)} is linked to {name(b)} ({h.relation})")
            k += 1
    text = "; ".join(clauses)
    return text[:1].upper() + text[1:]
