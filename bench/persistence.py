#!/usr/bin/env python3
"""Persistence figures, Rubedo against redis-server 7.0.15, one server at a
time on this machine:

  bgsave  1,000,000 keys of mixed types (~1 GB): peak RSS rise while a
          BGSAVE runs, p99/max latency of a steady SET load with and
          without it, BGSAVE wall time, file size; then SAVE time, file
          size and load time at restart.
  aof     SET throughput with appendonly yes and appendfsync always /
          everysec.
  formats the same dataset saved in Rubedo's format and in RDB: file size,
          SAVE time, load time at restart, and redis-server loading the RDB.

Usage: bench/persistence.py bgsave|aof|formats [--candidate PATH] [--keys N] [--engine E]
The candidate defaults to target/release/rubedo-server (build it first).
Load and latencies come from redis-benchmark; RSS from /proc.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")

    def read(self):
        line = self.f.readline()
        t, rest = line[:1], line[1:-2]
        if t in (b"+", b":"):
            return rest
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            return self.f.read(n + 2)[:-2]
        if t == b"*":
            return [self.read() for _ in range(int(rest))]
        raise RuntimeError("bad reply %r" % line)

    def call(self, *args):
        self.s.sendall(enc(*args))
        return self.read()

    def info(self, section, field):
        text = self.call("INFO", section).decode()
        for line in text.splitlines():
            if line.startswith(field + ":"):
                return line.split(":", 1)[1]
        return None


class Server:
    def __init__(self, kind, binary, extra):
        self.kind = kind
        self.dir = tempfile.mkdtemp(prefix="persist-bench-")
        self.port = free_port()
        base = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir]
        if kind == "redis":
            argv = ["redis-server"] + base + ["--save", "", "--enable-debug-command", "yes"]
        else:
            argv = [binary] + base + ["--save", "", "--enable-debug-command", "yes"]
        self.argv = argv + extra
        self.start()

    def start(self):
        self.t0 = time.time()
        self.p = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            try:
                c = Conn(self.port)
                if c.call("PING") == b"PONG":
                    self.ready_secs = time.time() - self.t0
                    self.c = c
                    return
            except (OSError, RuntimeError):
                pass
            time.sleep(0.005)

    def rss(self):
        """Physical memory of the server and its children (a fork's
        copy-on-write pages count once): the sum of their PSS."""
        total = 0
        pids = [self.p.pid]
        while pids:
            pid = pids.pop()
            try:
                with open("/proc/%d/smaps_rollup" % pid) as f:
                    for line in f:
                        if line.startswith("Pss:"):
                            total += int(line.split()[1]) * 1024
                for task in os.listdir("/proc/%d/task" % pid):
                    with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                        pids += [int(x) for x in f.read().split()]
            except OSError:
                pass
        return total

    def stop(self):
        self.p.kill()
        self.p.wait()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def populate(srv, keys):
    """70% strings of 1000 bytes, then hashes, lists and zsets of 10 items
    of 100 bytes: about 1 KB of data per key, random hex (compressible
    about 2:1, as real data often is)."""
    c = srv.c
    strings = keys * 7 // 10
    batch = []

    def send(args):
        batch.append(enc(*args))
        if len(batch) == 1000:
            flush()

    def flush():
        c.s.sendall(b"".join(batch))
        for _ in batch:
            c.read()
        batch.clear()

    def rnd(n):
        return os.urandom(n // 2).hex().encode()

    for i in range(strings):
        send([b"SET", b"str:%d" % i, rnd(1000)])
    for i in range(keys - strings):
        kind = i % 3
        k = b"k:%d" % i
        if kind == 0:
            args = [b"HSET", k]
            for j in range(10):
                args += [b"f%d" % j, rnd(100)]
        elif kind == 1:
            args = [b"RPUSH", k] + [rnd(100) for _ in range(10)]
        else:
            args = [b"ZADD", k]
            for j in range(10):
                args += [str(j).encode(), rnd(100)]
        send(args)
    if batch:
        flush()
    assert int(c.call("DBSIZE")) == keys, c.call("DBSIZE")


# Keys the SET load writes: created once before measuring, so the load
# overwrites values of the same size and RSS moves only with the snapshot.
LOAD_KEYS = 100_000


def bench_load(port, n, clients=4):
    """A SET load on random keys of 100-byte values; returns (rps, p99, max) in ms."""
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-t", "set", "-n", str(n), "-c", str(clients),
         "-r", str(LOAD_KEYS), "-d", "100", "--csv", "--precision", "3"],
        capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        f = [x.strip('"') for x in line.split(",")]
        if f and f[0] == "SET":
            return float(f[1]), float(f[6]), float(f[7])
    raise RuntimeError(out)


def sample_rss(srv, stop, peak):
    while not stop.is_set():
        peak[0] = max(peak[0], srv.rss())
        time.sleep(0.05)


def run_bgsave(kind, binary, keys, load_n):
    srv = Server(kind, binary, [])
    try:
        populate(srv, keys)
        bench_load(srv.port, LOAD_KEYS * 10, 20)
        time.sleep(1)
        rss0 = srv.rss()
        base = bench_load(srv.port, load_n)
        # The same load with a BGSAVE started once it runs.
        peak = [rss0]
        stop = threading.Event()
        sampler = threading.Thread(target=sample_rss, args=(srv, stop, peak))
        sampler.start()
        result = {}

        def load():
            result["with"] = bench_load(srv.port, load_n)

        t = threading.Thread(target=load)
        t.start()
        time.sleep(0.5)
        c = Conn(srv.port)
        t0 = time.time()
        c.call("BGSAVE")
        while c.info("persistence", "rdb_bgsave_in_progress") != "0":
            time.sleep(0.01)
        wall = time.time() - t0
        status = c.info("persistence", "rdb_last_bgsave_status")
        t.join()
        stop.set()
        sampler.join()
        size = os.path.getsize(os.path.join(srv.dir, "dump.rdb"))
        # Foreground save and load at restart.
        t0 = time.time()
        c.call("SAVE")
        save_secs = time.time() - t0
        size2 = os.path.getsize(os.path.join(srv.dir, "dump.rdb"))
        srv.stop()
        srv.start()
        load_secs = srv.ready_secs
        n = int(srv.c.call("DBSIZE"))
        return {
            "rss_before_mb": rss0 / 2**20,
            "rss_peak_mb": peak[0] / 2**20,
            "rss_rise_pct": (peak[0] - rss0) * 100.0 / rss0,
            "load_without": base,
            "load_with": result["with"],
            "bgsave_wall_s": wall,
            "bgsave_status": status,
            "file_mb": size / 2**20,
            "save_s": save_secs,
            "save_file_mb": size2 / 2**20,
            "restart_ready_s": load_secs,
            "keys_after_restart": n,
        }
    finally:
        srv.cleanup()


def cpu_secs(pid):
    """User + system CPU of a process and all its threads, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_aof(kind, binary, fsync, n, clients, extra):
    """(requests per second, server CPU µs per request)."""
    srv = Server(kind, binary, ["--appendonly", "yes", "--appendfsync", fsync]
                 + (extra if kind == "rubedo" else []))
    try:
        c0 = cpu_secs(srv.p.pid)
        rps = bench_load(srv.port, n, clients)[0]
        return rps, (cpu_secs(srv.p.pid) - c0) * 1e6 / n
    finally:
        srv.cleanup()


def run_formats(binary, keys):
    """File size and load time of one dataset in Rubedo's format and in RDB,
    and redis-server loading the RDB file Rubedo wrote."""
    out = {}
    srv = Server("rubedo", binary, [])
    try:
        populate(srv, keys)
        for fmt in ["rubedo", "rdb"]:
            srv.c.call("CONFIG", "SET", "snapshot-format", fmt)
            t0 = time.time()
            srv.c.call("SAVE")
            save = time.time() - t0
            size = os.path.getsize(os.path.join(srv.dir, "dump.rdb"))
            srv.stop()
            srv.start()
            out[fmt] = {"save_s": save, "file_mb": size / 2**20, "load_s": srv.ready_secs,
                        "keys": int(srv.c.call("DBSIZE"))}
        srv.stop()
        # The same RDB file, loaded by redis-server.
        r = Server("redis", binary, [])
        r.stop()
        r.argv = ["redis-server", "--port", str(r.port), "--bind", "127.0.0.1", "--dir", srv.dir,
                  "--save", ""]
        r.start()
        out["redis_loading_rdb"] = {"load_s": r.ready_secs, "keys": int(r.c.call("DBSIZE"))}
        r.cleanup()
    finally:
        srv.cleanup()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["bgsave", "aof", "formats"])
    ap.add_argument("--candidate", default="target/release/rubedo-server")
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--load", type=int, default=300_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--engine", default="single", choices=["single", "concurrent"])
    a = ap.parse_args()
    extra = ["--engine", a.engine] if a.engine != "single" else []
    if a.what == "formats":
        for _ in range(a.rounds):
            print(run_formats(a.candidate, a.keys), flush=True)
    elif a.what == "bgsave":
        for kind in ["redis", "rubedo"]:
            r = run_bgsave(kind, a.candidate, a.keys, a.load)
            print(kind, r, flush=True)
    else:
        for fsync in ["always", "everysec"]:
            for clients in [1, 50]:
                res = {"redis": [], "rubedo": []}
                cpu = {"redis": [], "rubedo": []}
                for _ in range(a.rounds):
                    for kind in ["redis", "rubedo"]:
                        n = a.load if clients > 1 else a.load // 10
                        rps, us = run_aof(kind, a.candidate, fsync, n, clients, extra)
                        res[kind].append(rps)
                        cpu[kind].append(round(us, 2))
                med = {k: sorted(v)[len(v) // 2] for k, v in res.items()}
                mcpu = {k: sorted(v)[len(v) // 2] for k, v in cpu.items()}
                print("appendfsync %s clients %d: redis %.0f rps, rubedo %.0f rps, ratio %.2f;"
                      " server CPU/request redis %.1f us, rubedo %.1f us (all: %s %s)"
                      % (fsync, clients, med["redis"], med["rubedo"], med["rubedo"] / med["redis"],
                         mcpu["redis"], mcpu["rubedo"], res, cpu),
                      flush=True)


if __name__ == "__main__":
    sys.exit(main())
