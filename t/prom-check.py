#!/usr/bin/env python3
# t/prom-check.py - read a Prometheus text exposition on stdin with the
# reference parser (prometheus_client.parser.text_string_to_metric_families,
# Debian's python3-prometheus-client) and print every sample as one line,
#   NAME{label="value",...} VALUE
# with the labels sorted, for the shell to look up. Exits 1 if the parser
# refuses the text, if a family has no HELP, or if a histogram is not one
# (buckets not cumulative, no +Inf bucket, +Inf bucket != _count).
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def labels(d):
    return "{" + ",".join('%s="%s"' % (k, d[k]) for k in sorted(d)) + "}" if d else ""


def check_histogram(f, errors):
    series = {}
    for s in f.samples:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        h = series.setdefault(key, {"buckets": [], "count": None, "sum": None})
        if s.name.endswith("_bucket"):
            h["buckets"].append((float(s.labels["le"]), s.value))
        elif s.name.endswith("_count"):
            h["count"] = s.value
        elif s.name.endswith("_sum"):
            h["sum"] = s.value
    for key, h in series.items():
        b = sorted(h["buckets"])
        if not b or not math.isinf(b[-1][0]):
            errors.append("%s%s: no +Inf bucket" % (f.name, key))
            continue
        if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
            errors.append("%s%s: buckets are not cumulative" % (f.name, key))
        if h["count"] is None or b[-1][1] != h["count"]:
            errors.append("%s%s: +Inf bucket %s != _count %s" % (f.name, key, b[-1][1],
                                                               h["count"]))
        if h["sum"] is None or h["sum"] < 0:
            errors.append("%s%s: no _sum" % (f.name, key))


def main():
    text = sys.stdin.read()
    errors = []
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser's verdict is the test
        print("parser refused the text: %s" % e, file=sys.stderr)
        return 1
    for f in families:
        if not f.documentation:
            errors.append("%s: no HELP" % f.name)
        if f.type == "histogram":
            check_histogram(f, errors)
        for s in f.samples:
            v = s.value
            print("%s%s %s" % (s.name, labels(s.labels),
                               int(v) if v == int(v) and not math.isinf(v) else v))
    print("# families %d" % len(families))
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
