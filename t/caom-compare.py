#!/usr/bin/env python3
"""caom-compare.py [--subset] EXPECTED.xml ACTUAL.xml

Compare two CAOM-2 documents by the reference tools' rule: entity ids,
checksums, lastModified, maxLastModified and metaProducer are ignored;
numbers are equal within 1e-12 relative (1e-11 absolute); dates are equal
when they name the same instant (2016-12-01T00:00:00.0 = ...00.000); the
items of CAOM sets (keywords, members, provenance inputs) may come in any
order; everything else, element order included, must match. Prints each difference with its path;
exits 0 when equal, 1 when not, 2 on unreadable input.

--subset: ACTUAL may hold more than EXPECTED (extra elements are listed on
stderr, not counted as differences); every element and value of EXPECTED
must be in ACTUAL, same-named siblings matched in order.
"""
import re
import sys
import xml.etree.ElementTree as ET
from datetime import datetime

# CAOM sets: their XML order carries no meaning.
SETS = {"keywords", "members", "inputs"}
DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$")

IGNORED = {"id", "lastModified", "maxLastModified", "metaChecksum",
           "accMetaChecksum", "metaProducer"}


def local(name):
    return name.rsplit("}", 1)[-1]


def as_number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def as_date(text):
    if not DATE.match(text):
        return None
    return datetime.fromisoformat(text)


def same_text(a, b):
    a = (a or "").strip()
    b = (b or "").strip()
    if a == b:
        return True
    if as_date(a) is not None and as_date(a) == as_date(b):
        return True
    x, y = as_number(a), as_number(b)
    if x is None or y is None:
        return False
    return abs(x - y) <= max(1e-11, 1e-12 * max(abs(x), abs(y)))


def attrs(elem):
    return {local(k): v for k, v in elem.attrib.items() if local(k) not in IGNORED}


def children(elem):
    return [c for c in elem if local(c.tag) not in IGNORED]


def compare_node(exp, act, path, out):
    """Tag, attributes and (for leaves) text; the children to compare, or None."""
    if local(exp.tag) != local(act.tag):
        out.append(f"{path}: element {local(act.tag)}, expected {local(exp.tag)}")
        return None
    ea, aa = attrs(exp), attrs(act)
    if ea != aa:
        out.append(f"{path}: attributes {aa}, expected {ea}")
    ec, ac = children(exp), children(act)
    if local(exp.tag) in SETS:
        ec = sorted(ec, key=lambda e: (e.text or "").strip())
        ac = sorted(ac, key=lambda e: (e.text or "").strip())
    if not ec and not ac and not same_text(exp.text, act.text):
        out.append(f"{path}: '{(act.text or '').strip()}', expected "
                   f"'{(exp.text or '').strip()}'")
    return ec, ac


def compare_subset(exp, act, path, out, extra):
    kids = compare_node(exp, act, path, out)
    if kids is None:
        return
    ec, ac = kids
    by_name = {}
    for a in ac:
        by_name.setdefault(local(a.tag), []).append(a)
    counts = {}
    for e in ec:
        name = local(e.tag)
        counts[name] = counts.get(name, 0) + 1
        same = by_name.get(name, [])
        if counts[name] > len(same):
            out.append(f"{path}: missing {name}[{counts[name]}]")
            continue
        compare_subset(e, same[counts[name] - 1], f"{path}/{name}[{counts[name]}]",
                       out, extra)
    for name, same in by_name.items():
        for i in range(counts.get(name, 0), len(same)):
            extra.append(f"{path}/{name}[{i + 1}]")


def compare(exp, act, path, out):
    kids = compare_node(exp, act, path, out)
    if kids is None:
        return
    ec, ac = kids
    names_e = [local(c.tag) for c in ec]
    names_a = [local(c.tag) for c in ac]
    if names_e != names_a:
        missing = [n for n in names_e if n not in names_a]
        extra = [n for n in names_a if n not in names_e]
        out.append(f"{path}: children differ; missing {missing}, unexpected {extra}"
                   f" (expected order {names_e})")
    counts = {}
    for e, a in zip(ec, ac):
        name = local(e.tag)
        counts[name] = counts.get(name, 0) + 1
        if local(a.tag) == name:
            compare(e, a, f"{path}/{name}[{counts[name]}]", out)


def main():
    args = sys.argv[1:]
    subset = bool(args) and args[0] == "--subset"
    if subset:
        args = args[1:]
    if len(args) != 2:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    try:
        exp = ET.parse(args[0]).getroot()
        act = ET.parse(args[1]).getroot()
    except (OSError, ET.ParseError) as e:
        print(f"caom-compare: {e}", file=sys.stderr)
        return 2
    out = []
    if subset:
        extra = []
        compare_subset(exp, act, "/" + local(exp.tag), out, extra)
        for line in extra:
            print(f"extra: {line}", file=sys.stderr)
    else:
        compare(exp, act, "/" + local(exp.tag), out)
    for line in out[:40]:
        print(line)
    if len(out) > 40:
        print(f"... and {len(out) - 40} more differences")
    return 1 if out else 0


if __name__ == "__main__":
    sys.exit(main())
