"""The graph model every loader writes and every package reads (see ARCHITECTURE.md, "The
knowledge graph"): node labels, relationship types, their properties. The ground floor: imports
nothing of ours.

Keys: every node has a string ``id`` unique within its label. Modality nodes take the id of
their video. Attribute entities take a readable id (``"Comedy"``, ``"1990s"``, ``"25-34"``).
"""

from __future__ import annotations

# Node labels
USER = "User"
VIDEO = "Video"
GENRE = "Genre"
TAG = "Tag"
DECADE = "Decade"
PERSON = "Person"
OCCUPATION = "Occupation"
AGE_GROUP = "AgeGroup"
GENDER = "Gender"
ENTITY = "Entity"  # KGAT-format entities that are not items
VISUAL = "Visual"
ACOUSTIC = "Acoustic"
TEXTUAL = "Textual"
MODALITIES = (VISUAL, ACOUSTIC, TEXTUAL)

# User -> Video interactions, one relationship type per fine-grained kind.
# Properties: ts (unix seconds, when known), split ("train"/"valid"/"test", when the source
# gives one), rating (RATED only).
RATED = "RATED"
INTERACTED = "INTERACTED"  # KGAT format: an implicit interaction of unknown kind
INTERACTION_KINDS = ("CLICKED", "LIKED", "FINISHED", "SHARED", "COMMENTED", "FOLLOWED")

# Item side
HAS_GENRE = "HAS_GENRE"  # Video -> Genre
HAS_TAG = "HAS_TAG"  # Video -> Tag {count}
RELEASED_IN = "RELEASED_IN"  # Video -> Decade
CREATED_BY = "CREATED_BY"  # Video -> Person
HAS_MODALITY = {VISUAL: "HAS_VISUAL", ACOUSTIC: "HAS_ACOUSTIC", TEXTUAL: "HAS_TEXTUAL"}
KG_PREFIX = "KG_"  # KGAT kg_final relations: KG_<relation name or id>

# User side
HAS_OCCUPATION = "HAS_OCCUPATION"  # User -> Occupation
IN_AGE_GROUP = "IN_AGE_GROUP"  # User -> AgeGroup
HAS_GENDER = "HAS_GENDER"  # User -> Gender

SPLITS = ("train", "valid", "test")


def age_group(age: int) -> str:
    """MovieLens-1M's age buckets, used for every source with numeric ages."""
    for upper, name in ((18, "<18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (50, "45-49"),
                        (56, "50-55")):  # fmt: skip
        if age < upper:
            return name
    return "56+"


def decade(year: int) -> str:
    return f"{year // 10 * 10}s"
