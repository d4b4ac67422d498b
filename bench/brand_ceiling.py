#!/usr/bin/env python3
"""What the brand column of a catalog lets any title-only brand recognizer score, measured
on the training part only (kg_eval's split: test = md5(id) mod 5 == 0, never read here).

The training part is split once more by the same hash (dev = md5(id) mod 5 == 1, the
rest "known"), so that dev plays the test part: its brands are known when some other
training row has them. Issue 10's scoring counts the top mention against the brand column,
and a mention on a row without a brand as wrong. For the dev rows this prints:
- branded rows whose title contains their brand (recall can be no higher), and how many of
  those brands the known rows have (a lexicon can find them) or not (only a new-brand
  proposal can);
- rows without a brand whose title starts with, or contains, a known brand name (a
  recognizer that trusts its lexicon names them, and each counts as wrong);
- the precision and recall of an oracle that is right on every branded row whose title
  holds its brand (known or not), answers the rows without a brand whose title starts with
  a known brand (the fewest a lexicon can wrongly name; "contains" counts names anywhere,
  some of them words such as "Slim" that a good recognizer would pass over), and proposes
  a new brand on a share q of the other rows without a brand (a new-brand proposal cannot
  tell "Kiosha Women's Dress" without a brand from "Alisha Women's Shorts" with one), for
  q = 0, 0.25, 0.5 and 1.

Names are compared as NFKC, case-folded runs of letters and digits (the service's
NormalizeText in spirit). Usage:
  brand_ceiling.py CSV [--id=uniq_id] [--title=product_name] [--brand=brand]
"""
import argparse
import csv
import hashlib
import re
import sys
import unicodedata


def tokens(text: str):
    return re.findall(r"[^\W_]+", unicodedata.normalize("NFKC", text).casefold())


def part(row_id: str) -> int:
    return int(hashlib.md5(row_id.encode()).hexdigest(), 16) % 5


def contains(title_tokens, name: str) -> bool:
    return f" {name} " in f" {' '.join(title_tokens)} "


def names_in(title_tokens, lexicon, max_tokens=4):
    """The lexicon names that are runs of whole title tokens; and whether one starts it."""
    found, first = set(), False
    for i in range(len(title_tokens)):
        for j in range(i + 1, min(i + max_tokens, len(title_tokens)) + 1):
            name = " ".join(title_tokens[i:j])
            if name in lexicon:
                found.add(name)
                first |= i == 0
    return found, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv")
    parser.add_argument("--id", default="uniq_id")
    parser.add_argument("--title", default="product_name")
    parser.add_argument("--brand", default="brand")
    args = parser.parse_args()
    csv.field_size_limit(sys.maxsize)
    with open(args.csv, newline="", encoding="utf-8") as f:
        rows = [(r[args.id], tokens(r[args.title]), " ".join(tokens(r[args.brand] or "")))
                for r in csv.DictReader(f) if part(r[args.id]) != 0]  # the training part
    known_rows = [r for r in rows if part(r[0]) != 1]
    dev = [r for r in rows if part(r[0]) == 1]
    lexicon = {b for _, _, b in known_rows if b}
    branded = [r for r in dev if r[2]]
    unbranded = [r for r in dev if not r[2]]
    in_title = [r for r in branded if contains(r[1], r[2])]
    in_title_known = [r for r in in_title if r[2] in lexicon]
    u_first = u_any = 0
    for _, title, _ in unbranded:
        found, first = names_in(title, lexicon)
        u_any += bool(found)
        u_first += first
    print(f"training part: {len(rows)} rows; dev (md5 mod 5 == 1): {len(dev)}, "
          f"{len(branded)} with a brand, {len(unbranded)} without")
    print(f"dev rows with a brand whose title contains it: {len(in_title)} "
          f"({len(in_title) / len(branded):.3f}); of those, brand known from the other "
          f"rows: {len(in_title_known)}, unknown: {len(in_title) - len(in_title_known)}")
    print(f"dev rows without a brand whose title starts with a known brand: {u_first} "
          f"({u_first / len(unbranded):.3f}); contains one: {u_any} "
          f"({u_any / len(unbranded):.3f})")
    print("oracle: right on every branded row whose title holds its brand, answers the "
          "unbranded rows starting with a known brand, proposes a new brand on a share q of "
          "the other unbranded rows")
    for q in (0, 0.25, 0.5, 1.0):
        wrong = u_first + q * (len(unbranded) - u_first)
        right = len(in_title)
        print(f"  q={q:<4}  precision {right / (right + wrong):.3f}  "
              f"recall {right / len(branded):.3f}")


if __name__ == "__main__":
    main()
