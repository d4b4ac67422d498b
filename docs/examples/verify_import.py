#!/usr/bin/python3
"""Checks a server loaded with the three example data sets (docs/IMPORT.md) against counts
computed independently from the source files with Python's csv module.

Usage (from the repository root, after the imports of docs/IMPORT.md):
  /usr/bin/python3 docs/examples/verify_import.py --kgctl=build/client/kgctl/kgctl \
      --addr=127.0.0.1:50051 \
      --taxonomy=../shared/data/google-product-taxonomy/taxonomy-with-ids.en-US.txt \
      --flipkart=../shared/data/flipkart-products/flipkart_products_joined.csv \
      --retail=../shared/data/online-retail-uci-dec2010/online_retail_first20k_with_customer.csv

Every buyer, product, brand and category of the files is checked with CountNeighbors
(kgctl count), and a few with GetNeighbors (kgctl neighbors --all_pages). Exit 0 when all
match. It re-implements the mapping rules on purpose (FNV-1a ids, category paths,
filters) rather than reusing the importer's code.
"""
import argparse
import collections
import csv
import datetime
import json
import subprocess
import sys


SPACES = " \t\n\v\f\r\u00a0"  # the importer's white space (docs/IMPORT.md)


def fnv1a64(text):
    h = 14695981039346656037
    for b in text.encode("utf-8"):
        h ^= b
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h or 1


class Kg:
    def __init__(self, kgctl, addr):
        self.kgctl, self.addr = kgctl, addr

    def run(self, args):
        out = subprocess.run([self.kgctl, "--addr=" + self.addr] + args, check=True,
                             capture_output=True, text=True).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def counts(self, keys, edge_type, direction):
        """{key: count} of one edge type and direction, 1000 keys per call."""
        result = {}
        for i in range(0, len(keys), 1000):
            chunk = keys[i:i + 1000]
            for item in self.run(["count"] + chunk + ["--type=" + edge_type,
                                                      "--dir=" + direction]):
                key = "%s:%s" % (item["key"]["type"], item["key"]["id"])
                result[key] = sum(int(c["count"]) for c in item.get("counts", []))
        return result

    def neighbors(self, key, edge_type, direction):
        lines = self.run(["neighbors", key, "--type=" + edge_type, "--dir=" + direction,
                          "--all_pages", "--limit=1000"])
        return [n for line in lines for n in line.get("neighbors", [])]


failures = 0


def check(label, expected, actual):
    global failures
    ok = expected == actual
    failures += 0 if ok else 1
    print("%-4s %s: expected %s, server %s" % ("ok" if ok else "FAIL", label, expected, actual))


def check_counts(kg, label, expected, edge_type, direction):
    """expected: {key: count}. Prints one summary line and the first mismatches."""
    global failures
    actual = kg.counts(sorted(expected), edge_type, direction)
    bad = [k for k in expected if actual.get(k) != expected[k]]
    failures += 1 if bad else 0
    print("%-4s %s: %d keys, %d match, %d edges in total (server %d)" % (
        "ok" if not bad else "FAIL", label, len(expected), len(expected) - len(bad),
        sum(expected.values()), sum(actual.get(k, 0) for k in expected)))
    for k in bad[:5]:
        print("     %s: expected %s, server %s" % (k, expected[k], actual.get(k)))


def verify_taxonomy(kg, path):
    id_by_path, children = {}, collections.Counter()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cid, full = line.split(" - ", 1)
            segs = full.split(" > ")
            id_by_path[" > ".join(segs)] = cid
            children[cid] += 0
            if len(segs) > 1:
                children[id_by_path[" > ".join(segs[:-1])]] += 1
    print("# Google Product Taxonomy: %d categories, %d top-level" % (
        len(children), sum(1 for p in id_by_path if " > " not in p)))
    check_counts(kg, "taxonomy children per category (SUBCATEGORY_OF in)",
                 {"CATEGORY:" + c: n for c, n in children.items()}, "SUBCATEGORY_OF", "in")
    check_counts(kg, "taxonomy parent per category (SUBCATEGORY_OF out)",
                 {"CATEGORY:" + id_by_path[p]: (1 if " > " in p else 0) for p in id_by_path},
                 "SUBCATEGORY_OF", "out")
    top = id_by_path["Animals & Pet Supplies"]
    want = sorted(id_by_path[p] for p in id_by_path
                  if p.startswith("Animals & Pet Supplies > ") and p.count(" > ") == 1)
    got = sorted(n["key"]["id"] for n in kg.neighbors("CATEGORY:" + top, "SUBCATEGORY_OF", "in"))
    check("children of CATEGORY:%s (Animals & Pet Supplies)" % top, want, got)


def flipkart_path(row):
    segs = [s.strip(SPACES) for s in
            json.loads(row["product_category_tree"])[0].split(" >> ")]
    if segs == [""]:
        return []
    name = row["product_name"].strip(SPACES)
    leaf = segs[-1]
    if leaf.endswith("..."):
        leaf = leaf[:-3].strip(SPACES)
    if name and leaf and (leaf.startswith(name) or name.startswith(leaf)):
        segs = segs[:-1]
    return segs


def verify_flipkart(kg, path):
    in_category, children, brands = collections.Counter(), {}, collections.Counter()
    names = {}
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            segs = flipkart_path(row)
            for d in range(1, len(segs) + 1):
                cid = fnv1a64(" > ".join(segs[:d]))
                names[cid] = " > ".join(segs[:d])
                children.setdefault(cid, set())
                if d > 1:
                    children[fnv1a64(" > ".join(segs[:d - 1]))].add(cid)
            if segs:
                in_category[fnv1a64(" > ".join(segs))] += 1
            brand = row["brand"].strip(SPACES)
            for c in SPACES:
                brand = brand.replace(c, " ")
            brand = " ".join(w for w in brand.split(" ") if w)
            brand = "".join(ch.lower() if "A" <= ch <= "Z" else ch for ch in brand)
            if brand:
                brands[fnv1a64(brand)] += 1
    print("# Flipkart: %d categories, %d brands" % (len(children), len(brands)))
    check_counts(kg, "flipkart products per category (IN_CATEGORY in)",
                 {"CATEGORY:%d" % c: in_category.get(c, 0) for c in children},
                 "IN_CATEGORY", "in")
    check_counts(kg, "flipkart subcategories per category (SUBCATEGORY_OF in)",
                 {"CATEGORY:%d" % c: len(s) for c, s in children.items()},
                 "SUBCATEGORY_OF", "in")
    check_counts(kg, "flipkart products per brand (HAS_BRAND in)",
                 {"BRAND:%d" % b: n for b, n in brands.items()}, "HAS_BRAND", "in")
    busiest = max(in_category, key=lambda c: (in_category[c], c))
    check("products in CATEGORY:%d (%s)" % (busiest, names[busiest]), in_category[busiest],
          len(kg.neighbors("CATEGORY:%d" % busiest, "IN_CATEGORY", "in")))


def verify_retail(kg, path):
    products_of, buyers_of, last = {}, {}, {}
    skipped = 0
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if not row["CustomerID"].strip(SPACES) or float(row["Quantity"]) <= 0:
                skipped += 1
                continue
            buyer, product = row["CustomerID"], fnv1a64(row["StockCode"].strip(SPACES))
            products_of.setdefault(buyer, set()).add(product)
            buyers_of.setdefault(product, set()).add(buyer)
            t = datetime.datetime.strptime(row["InvoiceDate"], "%Y-%m-%d %H:%M:%S")
            t = int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
            last[(buyer, product)] = (t, float(row["Quantity"]))
    print("# Online Retail: %d buyers, %d products, %d purchase pairs, %d rows skipped" % (
        len(products_of), len(buyers_of), len(last), skipped))
    check_counts(kg, "retail distinct products per buyer (PURCHASED out)",
                 {"BUYER:" + b: len(p) for b, p in products_of.items()}, "PURCHASED", "out")
    check_counts(kg, "retail distinct buyers per product (PURCHASED in)",
                 {"PRODUCT:%d" % p: len(b) for p, b in buyers_of.items()}, "PURCHASED", "in")
    busiest = max(products_of, key=lambda b: (len(products_of[b]), b))
    got = {int(n["key"]["id"]): (int(n["timeMs"]), n.get("weight", 0))
           for n in kg.neighbors("BUYER:" + busiest, "PURCHASED", "out")}
    want = {p: last[(busiest, p)] for p in products_of[busiest]}
    check("purchases of BUYER:%s (product, time, weight of the latest line)" % busiest,
          "%d edges" % len(want), "%d edges" % len(got) if got == want else "a different set")
    top = max(buyers_of, key=lambda p: (len(buyers_of[p]), p))
    got = sorted(n["key"]["id"] for n in kg.neighbors("PRODUCT:%d" % top, "PURCHASED", "in"))
    check("buyers of PRODUCT:%d (the most bought StockCode)" % top,
          "%d buyers" % len(buyers_of[top]),
          "%d buyers" % len(got) if got == sorted(buyers_of[top]) else "a different set")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kgctl", default="build/client/kgctl/kgctl")
    parser.add_argument("--addr", default="127.0.0.1:50051")
    parser.add_argument("--taxonomy")
    parser.add_argument("--flipkart")
    parser.add_argument("--retail")
    args = parser.parse_args()
    kg = Kg(args.kgctl, args.addr)
    if args.taxonomy:
        verify_taxonomy(kg, args.taxonomy)
    if args.flipkart:
        verify_flipkart(kg, args.flipkart)
    if args.retail:
        verify_retail(kg, args.retail)
    print("all checks passed" if failures == 0 else "%d checks FAILED" % failures)
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
