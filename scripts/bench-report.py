#!/usr/bin/env python3
"""scripts/bench-report.py OUT: turns OUT/raw/results.txt and OUT/raw/config.txt
(written by scripts/bench.sh) into OUT/report.md and OUT/report.png (gnuplot).

results.txt lines:  SYSTEM TAG PHASE key=value ...   (nfs_load's result lines)
                    SYSTEM TAG s3 req= put= get= put_b= get_b= settle_s=   (RGW counters)
                    SYSTEM - rss hwm_kb=N
                    raw-s3 LABEL put|get size= inflight= secs= rate= mibs= p50_ms= p99_ms=
Only the standard library; every number comes from those files."""
import os
import subprocess
import sys

SYSTEMS = ["zerofs-s3-sync", "zerofs-s3-async", "zerofs-local", "vfs", "s3fs", "rclone"]
LABELS = {
    "zerofs-s3-sync": "ZeroFS on RGW, sync",
    "zerofs-s3-async": "ZeroFS on RGW, async",
    "zerofs-local": "ZeroFS on local dir",
    "vfs": "ganesha FSAL_VFS (local disk)",
    "s3fs": "s3fs on RGW (FUSE)",
    "rclone": "rclone mount on RGW (FUSE)",
}
OURS_S3 = ["zerofs-s3-sync", "zerofs-s3-async"]
S3_SYSTEMS = ["zerofs-s3-sync", "zerofs-s3-async", "s3fs", "rclone"]


def load(out):
    res, s3, rss, raw = {}, {}, {}, {}
    with open(os.path.join(out, "raw", "results.txt")) as f:
        for line in f:
            w = line.split()
            if len(w) < 3:
                continue
            kv = {}
            for t in w[3:]:
                if "=" in t:
                    k, v = t.split("=", 1)
                    try:
                        kv[k] = float(v)
                    except ValueError:
                        pass
            sysname, tag, phase = w[0], w[1], w[2]
            if sysname == "raw-s3":
                raw[(tag, phase)] = kv
            elif phase == "s3":
                s3[(sysname, tag)] = kv
            elif phase == "rss":
                rss[sysname] = kv["hwm_kb"]
            else:
                res[(sysname, tag, phase)] = kv
    cfg = {}
    with open(os.path.join(out, "raw", "config.txt")) as f:
        for line in f:
            for t in line.split():
                if "=" in t:
                    k, v = t.split("=", 1)
                    cfg[k] = v
    return res, s3, rss, raw, cfg


def fmt(v, nd=1):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.{nd}f}" if abs(v) >= 1 else f"{v:.{max(nd, 2)}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


class Report:
    def __init__(self, out):
        self.out = out
        self.res, self.s3, self.rss, self.raw, self.cfg = load(out)
        self.systems = [s for s in SYSTEMS if any(k[0] == s for k in self.res)]
        self.lines = []
        self.targets = []  # (target, system, value, threshold text, pass)

    def get(self, sysname, tag, phase, key="rate"):
        kv = self.res.get((sysname, tag, phase))
        return None if kv is None else kv.get(key)

    def p(self, *a):
        self.lines.append(" ".join(str(x) for x in a))

    def table(self, head, rows, align=None):
        self.p("| " + " | ".join(head) + " |")
        self.p("|" + "|".join(align or (["---"] + ["---:"] * (len(head) - 1))) + "|")
        for r in rows:
            self.p("| " + " | ".join(fmt(x) if not isinstance(x, str) else x for x in r) + " |")
        self.p("")

    def target(self, name, sysname, value, thr, op=">="):
        if value is None:
            ok = "n/a"
        else:
            ok = "PASS" if (value >= thr if op == ">=" else value <= thr) else "MISS"
        self.targets.append((name, LABELS.get(sysname, sysname), value, f"{op} {fmt(thr, 2)}", ok))
        return ok

    # ---- sections ----
    def header(self):
        c = self.cfg
        q = c.get("quick") == "1"
        self.p("# ZeroFS benchmark report" + (" (--quick)" if q else ""))
        self.p("")
        self.p(f"Run {c.get('date')} at commit {c.get('commit')}, {c.get('nproc')} CPUs shared by every client "
               f"and server (load average {c.get('loadavg_start')} at the start, {c.get('loadavg_end')} at the end), "
               f"kernel {c.get('kernel')}, {c.get('elapsed_s')} s in all. Every read was checked against the bytes "
               "written (nfs_load fails the run on a mismatch).")
        self.p("")
        self.p(f"Sizes: W1 {c.get('w1_files')} files of 4 KiB in {c.get('w1_dirs')} directories "
               f"({c.get('w1_qd1_files')} with 1 in flight); W3 {int(c.get('w3_bytes', 0)) >> 20} MiB; "
               f"W4 {c.get('w4_ops')} and W5 {c.get('w5_ops')} ops of 4 KiB; W6 {c.get('w6_rounds')} rounds per "
               f"client; {c.get('inflight')} requests in flight. The FUSE systems run a documented subset: W1/W2 with "
               f"{c.get('fuse_w1_files')} files and W6 with {c.get('fuse_w6_rounds')} rounds per client (s3fs makes "
               "~13 S3 requests per small file and re-uploads a file on every fsync); rates per second are comparable, "
               "totals are not.")
        self.p("")
        self.p("Set-up: one Ceph RGW 16.2 (1 mon, 1 OSD with bluestore on a "
               f"{c.get('bluestore_gb')} GB file, osd_memory_target {int(c.get('osd_memory_target', 0)) >> 20} MiB) on "
               "127.0.0.1 serves every S3 system. NFS systems: Debian's ganesha 4.3, one instance per system, driven by "
               "tests/bench/nfs_load over libnfs 4.0 (async API, one TCP connection, NFSv3; W1/W2 also NFSv4.0 with one "
               "connection per request in flight). FUSE systems: the same workloads through POSIX calls from threads. "
               "Our FSAL: Memory_Cache_MB "
               f"{c.get('memory_cache_mb')}, a disk cache (Cache_Dir) for the RGW stores, defaults otherwise. "
               "Cold = server stopped, its caches (disk cache, rclone's VFS cache) removed, the kernel's page cache "
               "dropped, server started again. S3 figures are **RGW's own perf counters** (admin socket, `perf dump "
               "rgw`: req, put, get, put_b, get_b), taken around each workload and read after the traffic had been "
               "still for 3 s (background flushes and compaction included); 'other' = req - put - get (HEAD, LIST, "
               "DELETE, multipart POSTs).")
        self.p("")

    def raw_s3(self):
        self.p("## Raw S3 (the physical limit): tests/bench/s3_bench on the same RGW")
        self.p("")
        rows = []
        for label in ["put64k", "put8m", "put4k-qd1"]:
            for op in ["put", "get"]:
                kv = self.raw.get((label, op))
                if kv:
                    rows.append([f"{int(kv['size']) // 1024} KiB", f"{int(kv['inflight'])}", op.upper(),
                                 kv["rate"], kv["mibs"], kv["p50_ms"], kv["p99_ms"]])
        self.table(["object", "in flight", "op", "ops/s", "MiB/s", "p50 ms", "p99 ms"], rows)

    def w1(self):
        self.p("## W1 small files: create + write 4 KiB + COMMIT/fsync + close, files/s")
        self.p("")
        vfs = self.get("vfs", "W1", "create")
        s3fs = self.get("s3fs", "W1", "create")
        put_lat = self.raw.get(("put4k-qd1", "put"), {}).get("p50_ms")
        rows = []
        for s in self.systems:
            v = self.get(s, "W1", "create")
            files = self.res.get((s, "W1", "create"), {}).get("units")
            s3 = self.s3.get((s, "W1"))
            ppf = s3["put"] / files if s3 and files else None
            q1 = self.get(s, "W1qd1", "create")
            s3q = self.s3.get((s, "W1qd1"))
            q1files = self.res.get((s, "W1qd1", "create"), {}).get("units")
            ppf1 = s3q["put"] / q1files if s3q and q1files else None
            rows.append([LABELS[s], v, self.get(s, "W1v4", "create"), ratio(v, vfs), ratio(v, s3fs),
                         ppf, q1, ppf1])
            if s in OURS_S3:
                self.target("W1 >= 0.7x FSAL_VFS (64 in flight)", s, ratio(v, vfs), 0.7)
                self.target("W1 >= 20x s3fs (64 in flight)", s, ratio(v, s3fs), 20)
                self.target("W1 S3 PUTs per file", s, ppf, 0.1 if s == "zerofs-s3-sync" else 0.01, "<=")
        self.table(["system", "files/s v3", "files/s v4.0", "x VFS", "x s3fs", "S3 PUTs/file", "files/s, 1 in flight",
                    "PUTs/file, 1 in flight"], rows)
        s = "zerofs-s3-sync"
        q1 = self.get(s, "W1qd1", "create")
        s3q = self.s3.get((s, "W1qd1"))
        q1files = self.res.get((s, "W1qd1", "create"), {}).get("units")
        if q1 and s3q and q1files and put_lat:
            ppf = s3q["put"] / q1files
            bound = 1000.0 / (ppf * put_lat) if ppf > 0 else None
            self.p(f"One in flight, sync mode: each file costs {ppf:.2f} S3 PUTs (RGW counters), each a round trip of "
                   f"{put_lat:.2f} ms (raw 4 KiB PUT p50, 1 in flight), so the bound is {fmt(bound)} files/s; measured "
                   f"{fmt(q1)} files/s = **{fmt(ratio(q1, bound), 2)}x the bound**.")
            self.p("")

    def w2(self):
        self.p("## W2 metadata on W1's tree: ops/s per phase (stat every file, list every directory, rename half, delete all)")
        self.p("")
        rows = []
        vfs_total = None
        totals = {}
        for s in self.systems:
            for tag in ["W2", "W2v4"]:
                units = secs = 0.0
                for ph in ["stat", "list", "rename", "delete", "rmdir"]:
                    kv = self.res.get((s, tag, ph))
                    if kv:
                        units += kv["units"]
                        secs += kv["secs"]
                totals[(s, tag)] = units / secs if secs else None
        vfs_total = totals.get(("vfs", "W2"))
        for s in self.systems:
            rows.append([LABELS[s]] + [self.get(s, "W2", ph) for ph in ["stat", "list", "rename", "delete"]] +
                        [totals[(s, "W2")], ratio(totals[(s, "W2")], vfs_total), totals.get((s, "W2v4"))])
        self.table(["system", "stat/s", "list dirs/s", "rename/s", "delete/s", "all ops/s v3", "x VFS",
                    "all ops/s v4.0"], rows)
        self.w2_totals = totals

    def w3(self):
        self.p("## W3 sequential: 1 MiB writes + COMMIT, read back warm and cold, MiB/s")
        self.p("")
        put8 = self.raw.get(("put8m", "put"), {}).get("mibs")
        vfs_warm = self.get("vfs", "W3warm", "read", "mibs")
        rows = []
        for s in self.systems:
            w = self.get(s, "W3", "total", "mibs")
            warm = self.get(s, "W3warm", "read", "mibs")
            cold = self.get(s, "W3cold", "read", "mibs")
            rows.append([LABELS[s], w, ratio(w, put8) if s in S3_SYSTEMS else "-", warm, ratio(warm, vfs_warm), cold])
            if s in OURS_S3:
                self.target("W3 write >= 0.8x raw S3 PUT (8 MiB, 16 in flight)", s, ratio(w, put8), 0.8)
                self.target("W3 warm read >= 0.8x FSAL_VFS", s, ratio(warm, vfs_warm), 0.8)
        self.table(["system", "write MiB/s (incl. COMMIT)", "x raw PUT", "warm read MiB/s", "x VFS",
                    "cold read MiB/s"], rows)
        self.p(f"Raw S3 PUT of 8 MiB objects, 16 in flight: {fmt(put8)} MiB/s.")
        self.p("")

    def w4(self):
        self.p("## W4 random write: 4 KiB writes to distinct random blocks + COMMIT")
        self.p("")
        vfs = self.get("vfs", "W4", "total")
        rows = []
        for s in self.systems:
            v = self.get(s, "W4", "total")
            ops = self.res.get((s, "W4", "write"), {}).get("units")
            s3 = self.s3.get((s, "W4"))
            amp = s3["put_b"] / (ops * 4096) if s3 and ops else None
            rows.append([LABELS[s], v, ratio(v, vfs), self.get(s, "W4", "write", "p50_ms"),
                         self.get(s, "W4", "write", "p99_ms"), amp, s3["settle_s"] if s3 else None])
            if s in OURS_S3:
                self.target("W4 IOPS >= 0.5x FSAL_VFS", s, ratio(v, vfs), 0.5)
        self.table(["system", "IOPS (incl. COMMIT)", "x VFS", "write p50 ms", "write p99 ms",
                    "S3 bytes up / bytes written", "settle s"], rows)
        self.p("Write amplification = bytes PUT to RGW (put_b) from the start of W4 until the S3 traffic was still for "
               "3 s (flushes and compaction included) / bytes the client wrote.")
        self.p("")

    def w5(self):
        self.p("## W5 random read: 4 KiB reads at random blocks, cold (after a restart) then warm (same offsets)")
        self.p("")
        rows = []
        for s in self.systems:
            rows.append([LABELS[s]] + [self.get(s, t, "read", k) for t in ["W5cold", "W5warm"]
                                       for k in ["rate", "p50_ms", "p99_ms"]])
        self.table(["system", "cold IOPS", "cold p50 ms", "cold p99 ms", "warm IOPS", "warm p50 ms", "warm p99 ms"], rows)

    def w6(self):
        self.p("## W6 sync-heavy: rounds of (write 4 KiB, COMMIT/fsync), 1 client and 16 clients")
        self.p("")
        put_lat = self.raw.get(("put4k-qd1", "put"), {}).get("p50_ms")
        rows = []
        for s in self.systems:
            c1 = self.get(s, "W6c1", "rounds")
            c16 = self.get(s, "W6c16", "rounds")
            cp50 = self.get(s, "W6c1", "rounds", "commit_p50_ms")
            rows.append([LABELS[s], c1, self.get(s, "W6c1", "rounds", "p50_ms"), self.get(s, "W6c1", "rounds", "p99_ms"),
                         cp50, ratio(cp50, put_lat) if s in S3_SYSTEMS else "-", c16,
                         self.get(s, "W6c16", "rounds", "p50_ms"), self.get(s, "W6c16", "rounds", "p99_ms"),
                         ratio(c16, c1)])
            if s in OURS_S3:
                self.target("W6 1 client COMMIT p50 <= 1.5x raw 4 KiB PUT p50", s, ratio(cp50, put_lat), 1.5, "<=")
                self.target("W6 16 clients >= 8x 1 client rounds/s", s, ratio(c16, c1), 8)
        self.table(["system", "1 client rounds/s", "p50 ms", "p99 ms", "COMMIT p50 ms", "x raw PUT p50",
                    "16 clients rounds/s", "p50 ms", "p99 ms", "16 / 1"], rows)
        self.p(f"Raw 4 KiB PUT, 1 in flight: p50 {fmt(put_lat, 2)} ms.")
        self.p("")

    def w7(self):
        nfs = [s for s in self.systems if (s, "W7", "tar") in self.res]
        if not nfs:
            return
        self.p("## W7 tar: the Linux kernel client (qemu, NFSv4.2) extracts a source tree, reads it back, removes it")
        self.p("")
        vfs_x = self.get("vfs", "W7", "tar", "extract_s")
        rows = []
        for s in nfs:
            files = self.get(s, "W7", "tar", "files")
            ext = self.get(s, "W7", "tar", "extract_s")
            kv = self.s3.get((s, "W7"))
            put = kv["put"] if kv else None
            rows.append([LABELS[s], files, ext, ratio(ext, vfs_x), self.get(s, "W7", "tar", "read_s"),
                         self.get(s, "W7", "tar", "rm_s"), put if put is not None else "-",
                         ratio(put, files) if put is not None else "-"])
        self.table(["system", "files", "extract + sync s", "x VFS time", "read back s", "rm s", "S3 PUTs",
                    "PUTs/file"], rows)
        self.p("The guest is emulated (TCG, one CPU): times include its own slowness, the same for every system. "
               "PUTs: RGW's counters from the start of the extract until S3 traffic was still (read back and rm "
               "included).")
        self.p("")
        ops = sorted({k[2] for k in self.res if k[1] == "W7ops"})
        if ops:
            self.p("NFS operations the client sent per file (its /proc/self/mountstats after the extract):")
            self.p("")
            rows = []
            for s in nfs:
                files = self.get(s, "W7", "tar", "files") or 1
                rows.append([LABELS[s]] + [ratio(self.get(s, "W7ops", o, "n"), files) for o in ops])
            self.table(["system"] + ops, rows)
            self.p("")

    def s3_table(self):
        self.p("## S3 requests and bytes per workload (RGW perf counters)")
        self.p("")
        rows = []
        for s in self.systems:
            if s not in S3_SYSTEMS:
                continue
            for tag in ["W1", "W2", "W1v4", "W2v4", "W1qd1", "W3", "W3warm", "W3cold", "W4", "W5cold", "W5warm",
                        "W6c1", "W6c16", "W7"]:
                kv = self.s3.get((s, tag))
                if kv:
                    rows.append([LABELS[s], tag, kv["req"], kv["put"], kv["get"], kv["req"] - kv["put"] - kv["get"],
                                 kv["put_b"] / 1048576, kv["get_b"] / 1048576, kv["settle_s"]])
        self.table(["system", "workload", "requests", "PUT", "GET", "other", "MiB up", "MiB down", "settle s"], rows,
                   ["---", "---"] + ["---:"] * 7)
        self.p("Tags: W1 (v3, 64 in flight), W1v4 (v4.0), W1qd1 (1 in flight), W3 (write), W3warm/W3cold (reads), "
               "W5cold/W5warm, W6c1/W6c16 (clients). Local systems use no S3.")
        self.p("")

    def rss_table(self):
        self.p("## Peak RSS of the server process (VmHWM: ganesha.nfsd, s3fs, rclone; max over restarts)")
        self.p("")
        limit = int(self.cfg.get("memory_cache_mb", 64)) + 256
        rows = []
        for s in self.systems:
            mib = self.rss.get(s, 0) / 1024 if s in self.rss else None
            rows.append([LABELS[s], mib])
            if s.startswith("zerofs"):
                self.target(f"peak RSS <= caches + 256 MiB = {limit} MiB", s, mib, limit, "<=")
        self.table(["system", "peak RSS MiB"], rows)
        self.p(f"Configured caches of our FSAL: Memory_Cache_MB = {self.cfg.get('memory_cache_mb')} (block cache); "
               "the disk cache is on disk. Not counted as a cache: the LSM memtables (64 MiB each, up to 1 active + 2 "
               "frozen by default).")
        self.p("")

    def targets_table(self):
        self.p("## Targets (our FSAL on RGW)")
        self.p("")
        self.table(["target", "system", "measured", "wanted", "result"],
                   [[t[0], t[1], t[2], t[3], f"**{t[4]}**" if t[4] == "MISS" else t[4]] for t in self.targets],
                   ["---", "---", "---:", "---:", "---"])

    def chart(self):
        """report.png: every workload's headline relative to FSAL_VFS, log scale."""
        if "vfs" not in self.systems:
            self.p("(No chart: it is drawn relative to FSAL_VFS, which this run did not include.)")
            self.p("")
            return
        metrics = [("W1 create", "W1", "create", "rate"), ("W2 all", None, None, None),
                   ("W3 write", "W3", "total", "mibs"), ("W3 warm", "W3warm", "read", "mibs"),
                   ("W3 cold", "W3cold", "read", "mibs"), ("W4 IOPS", "W4", "total", "rate"),
                   ("W5 cold", "W5cold", "read", "rate"), ("W5 warm", "W5warm", "read", "rate"),
                   ("W6 1 cl.", "W6c1", "rounds", "rate"), ("W6 16 cl.", "W6c16", "rounds", "rate")]
        dat = os.path.join(self.out, "raw", "chart.dat")
        with open(dat, "w") as f:
            f.write("metric " + " ".join(f'"{LABELS[s]}"' for s in self.systems) + "\n")
            for name, tag, ph, key in metrics:
                vals = []
                for s in self.systems:
                    if tag is None:
                        v, b = self.w2_totals.get((s, "W2")), self.w2_totals.get(("vfs", "W2"))
                    else:
                        v, b = self.get(s, tag, ph, key), self.get("vfs", tag, ph, key)
                    r = ratio(v, b)
                    vals.append(f"{r:.4g}" if r else "NaN")
                f.write(f'"{name}" ' + " ".join(vals) + "\n")
        n = len(self.systems)
        gp = f"""set terminal pngcairo size 1400,700 noenhanced font ",10"
set output "{os.path.join(self.out, 'report.png')}"
set title "Throughput relative to ganesha + FSAL_VFS on local disk (= 1; higher is better; log scale)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set logscale y
set grid ytics
set key outside right top vertical
set xtics rotate by -30
set ylabel "x FSAL_VFS"
plot for [i=2:{n + 1}] "{dat}" using i:xtic(1) title columnheader(i), 1 with lines lt -1 notitle
"""
        gpf = os.path.join(self.out, "raw", "chart.gp")
        with open(gpf, "w") as f:
            f.write(gp)
        r = subprocess.run(["gnuplot", gpf], capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write(r.stderr)
            raise SystemExit("gnuplot failed")

    def notes(self):
        fails = os.path.join(self.out, "raw", "failures.txt")
        if os.path.exists(fails):
            self.p("## Failures (results left out)")
            self.p("")
            self.p("A FUSE peer that failed a workload or returned wrong data (every read is checked) is listed "
                   "here and its figures for that workload are left out; ZeroFS and FSAL_VFS failures stop the run.")
            self.p("")
            with open(fails) as f:
                for line in f:
                    w = line.rstrip("\n").split(" ", 2)
                    if len(w) == 3:
                        self.p(f"- {w[0]}, {w[1]}: `{w[2]}`")
            self.p("")
        self.p("## Notes")
        self.p("")
        self.p("- libnfs 4.0 (Debian 12) speaks NFSv4.0 only (`nfs_set_version` has no minor version), so the v4 "
               "columns are v4.0, not v4.1. Its v4 client cannot encode a WRITE of ~4000 bytes or more: over v4 "
               "nfs_load writes in 2 KiB pieces, and W3-W6 run over NFSv3 only. Its v4.0 client does not serialise "
               "open-owner seqids, so over v4 each request in flight has its own connection and client id.")
        self.p("- libnfs's path calls resolve every path from the root: over v3 each operation is preceded by a "
               "LOOKUP of its directory (v4 puts it in the same COMPOUND). This costs every NFS system alike.")
        self.p("- rclone with --vfs-cache-mode writes acknowledges fsync without uploading (uploads happen after "
               "close, in the background): its W1/W6 figures are not durable. Its S3 traffic is still counted, "
               "because counters are read after the traffic settles.")
        self.p("- RGW's get_b counts the bytes of every range it was asked for, also when the client hangs up early: "
               "rclone opens ranged GETs to the end of the file and abandons them, so its 'MiB down' is far more "
               "than it received.")
        self.p("- Timings on a 2-CPU machine shared by the load generator, the server, RGW (and, during development, "
               "other engineers' builds) are noisy: compare within one run, not across runs.")
        self.p("")

    def write(self):
        self.header()
        self.raw_s3()
        self.w1()
        self.w2()
        self.w3()
        self.w4()
        self.w5()
        self.w6()
        self.w7()
        self.rss_table()
        self.s3_table()
        self.chart()
        body = self.lines
        self.lines = []
        self.targets_table()
        tgt = self.lines
        self.lines = []
        self.notes()
        notes = self.lines
        # targets first after the header: what a reader wants to see
        hdr_end = body.index("## Raw S3 (the physical limit): tests/bench/s3_bench on the same RGW")
        chart = ["![chart](report.png)", ""] if "vfs" in self.systems else []
        text = body[:hdr_end] + chart + tgt + body[hdr_end:] + notes
        with open(os.path.join(self.out, "report.md"), "w") as f:
            f.write("\n".join(text) + "\n")


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: bench-report.py OUT")
    Report(sys.argv[1]).write()


if __name__ == "__main__":
    main()
