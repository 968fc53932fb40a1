"""Reads and edits tuning record files for the lit tests.

records.py check FILE N   prints the format and one line per record, and
                          fails unless the file is valid with N records
                          (-1: any number)
records.py set16 FILE OUT  copies FILE with every schedule at 16 lanes
records.py derive FILE OUT PATTERN
                          copies FILE's records for PATTERN with 32 x 24
                          tiles (a schedule no tuner picked, for tests of
                          the variants it makes)
records.py schedule FILE TEXT  sets every record's schedule to TEXT
records.py set FILE FIELD VALUE
                          sets FIELD of every record's key (or the file's
                          "format") to VALUE
"""
import json
import sys


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    with open(path) as f:
        doc = json.load(f)
    if cmd == "check":
        want = int(sys.argv[3])
        recs = doc["records"]
        print(f"format {doc['format']}, {len(recs)} record(s)")
        for r in recs:
            k = r["key"]
            for field in ("schedule", "config", "median_ms", "default_ms", "date", "shape"):
                assert field in r, field
            prefix = ("#attn.cpu_schedule<" if k["target"] == "cpu"
                      else "#attn.gpu_schedule<chip = \"" + k["target"] + "\"")
            assert r["schedule"].startswith(prefix), r["schedule"]
            assert r["median_ms"] > 0 and r["default_ms"] > 0
            print(f"{k['op']} {k['pattern']} {k['dtype']} D={k['d']} "
                  f"nq_bucket={k['nq_bucket']} nk_bucket={k['nk_bucket']} "
                  f"gqa={k['gqa']} target={k['target']}")
        return 0 if want < 0 or len(recs) == want else 1
    if cmd == "derive":
        import re
        for r in doc["records"]:
            r["key"]["pattern"] = sys.argv[4]
            sched = re.sub(r"block_m = \d+", "block_m = 32", r["schedule"])
            sched = re.sub(r"block_n = \d+", "block_n = 24", sched)
            sched = re.sub(r"mr_keys = \d+", "mr_keys = 12", sched)
            r["schedule"] = re.sub(r"mr_values = \d+", "mr_values = 12", sched)
            r["config"] = "bm=32 bn=24 (derived)"
        with open(sys.argv[3], "w") as f:
            json.dump(doc, f, indent=2)
        return 0
    if cmd == "schedule":
        for r in doc["records"]:
            r["schedule"] = sys.argv[3]
        with open(path, "w") as f:
            json.dump(doc, f, indent=2)
        return 0
    if cmd == "set16":
        for r in doc["records"]:
            r["schedule"] = r["schedule"].replace("vector_width = 8",
                                                  "vector_width = 16")
            r["config"] = r["config"].replace("w=8", "w=16")
        with open(sys.argv[3], "w") as f:
            json.dump(doc, f, indent=2)
        return 0
    field, value = sys.argv[3], sys.argv[4]
    if field == "format":
        doc["format"] = int(value)
    else:
        for r in doc["records"]:
            r["key"][field] = value
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
