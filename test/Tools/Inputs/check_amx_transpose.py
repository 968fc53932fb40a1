"""Checks the AMX path's transposes of P (passes/CPUAmx.cpp) in a kernel's
vector code (attnc --emit=mlir): every run of 16 word rows (bf16 pairs as
vector<16xi32>, loaded from the 2-D i32 buffer the softmax writes them to)
through vector.shuffle ops must come out, as
the 16 words vectors bitcast back to bf16 for the stores, as the columns
of those rows in order. The shuffles are followed symbolically (each lane
an (row, column) pair), so this checks the network the compiler wrote, on
any host. Prints how many transposes it checked; exit 1 on a wrong one or
on none."""
import re
import sys

ROW = re.compile(r"(%\w+) = vector.load %\w+\[[^\]]*\] : memref<\d+x\d+xi32>, vector<16xi32>")
SHUFFLE = re.compile(r"(%\w+) = vector.shuffle (%\w+), (%\w+) \[([\d, ]+)\] : "
                     r"vector<16xi32>, vector<16xi32>")
OUT = re.compile(r"(%\w+) = vector.bitcast (%\w+) : vector<16xi32> to vector<32xbf16>")

rows, vals, outs, checked, bad = [], {}, [], 0, 0
for line in open(sys.argv[1]):
    m = ROW.search(line)
    if m:
        vals[m.group(1)] = [(len(rows), c) for c in range(16)]
        rows.append(m.group(1))
        continue
    m = SHUFFLE.search(line)
    if m and m.group(2) in vals and m.group(3) in vals:
        both = vals[m.group(2)] + vals[m.group(3)]
        vals[m.group(1)] = [both[int(i)] for i in m.group(4).split(",")]
        continue
    m = OUT.search(line)
    if m and m.group(2) in vals:
        outs.append(vals[m.group(2)])
        if len(outs) == 16:
            want = [[(r, q) for r in range(16)] for q in range(16)]
            checked += 1
            if outs != want:
                bad += 1
                print(f"transpose {checked}: wrong, got {outs}")
            rows, vals, outs = [], {}, []
print(f"checked {checked} transposes, {bad} wrong")
sys.exit(1 if bad or not checked else 0)
