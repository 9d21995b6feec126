"""Tiny dataset files in the MovieLens-100K, MovieLens-1M and KGAT layouts, written at test time.

Every value is invented (users, ages, zip codes, timestamps, titles): the real datasets are
under research-use licences and stay out of this repository. :func:`write_all` adds these
files to a copy of ``tests/fixtures``, which holds the other hand-made fixture files.
"""

from __future__ import annotations

from pathlib import Path

FILES: dict[str, str] = {
    # user, item, rating, timestamp
    "ml100k/u.data": (
        "1\t1\t5\t900000001\n"
        "1\t2\t3\t900000002\n"
        "2\t1\t4\t900000003\n"
        "2\t3\t2\t900000004\n"
        "3\t4\t1\t900000005\n"
        "3\t5\t5\t900000006\n"
        "4\t2\t4\t900000007\n"
        "4\t5\t3\t900000008\n"
    ),
    # id|title|release|video release|URL|19 genre flags
    "ml100k/u.item": (
        "1|Alpha (1995)|01-Jan-1995||http://example.org/title/1|0|1|0|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
        "2|Beta (1987)|12-Mar-1987||http://example.org/title/2|0|0|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0\n"
        "3|Gamma (2001)|05-Jun-2001|||0|1|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0\n"
        "4|unknown||||1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
        "5|Delta (1994)|01-Jan-1994||http://example.org/title/5|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
    ),
    # id|age|gender|occupation|zip
    "ml100k/u.user": (
        "1|24|M|technician|10001\n2|53|F|other|20002\n3|17|M|student|30003\n4|33|F|other|40004\n"
    ),
    # user::movie::rating::timestamp
    "ml1m/ratings.dat": (
        "1::1::5::960000001\n"
        "1::2::3::960000002\n"
        "2::2::4::960000003\n"
        "3::3::2::960000004\n"
        "3::1::4::960000005\n"
    ),
    # user::gender::age::occupation::zip
    "ml1m/users.dat": ("1::F::1::10::10001\n2::M::56::16::20002\n3::M::25::15::30003\n"),
    # user, then its items
    "kgat/train.txt": ("0 0 1 2\n1 3\n2\n3 1 4\n"),
}


def write_all(root: Path) -> None:
    """Write every file of :data:`FILES` under ``root``."""
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="latin-1")
