#!/usr/bin/python3
"""Live test of the Prometheus rules and the Grafana dashboard against a real split cluster.

Starts two partition servers and a front end (metrics_port=0 each), a real Prometheus
(scrape and rule evaluation every 1s, its own temporary TSDB, a free 127.0.0.1 port, loading
deploy/prometheus/rules.yml), drives traffic with kgctl (import, reads, bad calls, a model
training), then asserts through Prometheus's HTTP API that:
  - the three targets are up and every rule of rules.yml loaded and evaluates (health ok);
  - every query of every panel of deploy/grafana/kg-dashboard.json, with the template
    variables substituted as Grafana does for "All", returns at least one series;
  - a few panels show the right figures (entities and edges imported, client-caused errors
    visible per code but not counted as server errors, the trained model bundle on every
    partition) and no alert is active (pending or firing) in the healthy cluster;
then kills one partition server, loads the front end with kg_bench and asserts that
KgPartitionUnreachable (for its two partitions, not the others) and KgServerDown (for it)
become active. Everything started is stopped at the end, also on failure or Ctrl-C.

Usage: deploy/prometheus/live_test.py [--build_dir=build] [--keep]
(standard library only; KG_BUILD_DIR also sets the build directory).
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# What Grafana substitutes for its built-in interval variables (1s scrapes here).
BUILTINS = {"__rate_interval": "15s", "__interval": "5s", "__interval_ms": "5000",
            "__range": "5m", "__range_s": "300", "__range_ms": "300000"}
GRAFANA_GLOBALS = set(BUILTINS) | {"__dashboard", "__from", "__to", "__org", "__user",
                                   "timeFilter", "__timeFilter"}


class TestFailure(Exception):
    pass


def log(msg):
    print(f"[live_test {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ------------------------------------------------------------------ dashboard
def dashboard_panels(dash):
    """Every panel, rows' nested panels (collapsed rows) included."""
    out = []
    for p in dash.get("panels", []):
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def lint_dashboard(dash):
    """Static checks: Grafana 10 schema basics, the datasource variable, ids, layout."""
    errors = []
    if dash.get("schemaVersion", 0) < 36:
        errors.append(f"schemaVersion {dash.get('schemaVersion')} is older than Grafana 9/10's")
    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        errors.append("no template variable 'datasource' of type datasource (prometheus)")
    ids, cells = set(), {}
    for p in dashboard_panels(dash):
        title = p.get("title", "?")
        if p.get("id") in ids:
            errors.append(f"panel id {p.get('id')} used twice")
        ids.add(p.get("id"))
        g = p.get("gridPos", {})
        if not all(k in g for k in ("x", "y", "w", "h")) or g["x"] < 0 or g["x"] + g["w"] > 24:
            errors.append(f"panel {title!r}: bad gridPos {g}")
            continue
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells and p.get("type") != "row":
                    errors.append(f"panel {title!r} overlaps {cells[(x, y)]!r}")
                    break
                cells[(x, y)] = title
            else:
                continue
            break
        if p.get("type") == "row":
            continue
        if p.get("datasource", {}).get("uid") != "${datasource}":
            errors.append(f"panel {title!r}: datasource is not ${{datasource}}")
        targets = p.get("targets", [])
        if not targets:
            errors.append(f"panel {title!r}: no query")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs):
            errors.append(f"panel {title!r}: duplicate refId")
        for t in targets:
            if not t.get("expr", "").strip():
                errors.append(f"panel {title!r} query {t.get('refId')}: empty expr")
            if t.get("datasource", {}).get("uid") != "${datasource}":
                errors.append(f"panel {title!r} query {t.get('refId')}: datasource is not "
                              "${datasource}")
            for name in re.findall(r"\$\{?(\w+)", t.get("expr", "")):
                if name not in variables and name not in GRAFANA_GLOBALS:
                    errors.append(f"panel {title!r}: unknown variable ${name}")
    if errors:
        raise TestFailure("dashboard lint:\n  " + "\n  ".join(errors))


def prom_regex_escape(value):
    # Grafana's Prometheus datasource (prometheusSpecialRegexEscape) for multi-value variables.
    value = value.replace("\\", "\\\\\\\\")
    return re.sub(r"([$^*{}\[\]'+?.()|])", r"\\\\\1", value)


def substitute(expr, values):
    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name in BUILTINS:
            return BUILTINS[name]
        if name in values:
            return values[name]
        raise TestFailure(f"query uses unknown variable ${name}: {expr}")
    # ${name}, ${name:format} (format ignored: regex is what every query here uses), $name
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)", repl, expr)


# ------------------------------------------------------------------ processes
class Procs:
    def __init__(self):
        self.items = []  # (name, Popen)

    def start(self, name, argv, logfile):
        log(f"start {name}: {' '.join(argv)}")
        out = open(logfile, "wb")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        self.items.append((name, p))
        return p

    def stop(self, p, grace=5.0):
        if p.poll() is not None:
            return
        p.terminate()
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)

    def stop_all(self):
        for name, p in reversed(self.items):
            try:
                self.stop(p)
            except Exception as e:  # keep stopping the others
                log(f"could not stop {name} (pid {p.pid}): {e}")


def wait_port_file(path, proc, name, deadline):
    while time.time() < deadline:
        if proc.poll() is not None:
            raise TestFailure(f"{name} exited with status {proc.returncode} before serving")
        if os.path.exists(path):
            kv = dict(line.split("=", 1) for line in open(path).read().split() if "=" in line)
            if "grpc" in kv and "metrics" in kv:
                return kv["grpc"], kv["metrics"]
        time.sleep(0.1)
    raise TestFailure(f"{name} did not write {path} in time")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(argv, timeout, ok_codes=(0,)):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, timeout=timeout)
    if r.returncode not in ok_codes:
        raise TestFailure(f"{' '.join(argv)} exited {r.returncode}: "
                          f"{r.stderr.decode(errors='replace')[-800:]}")
    return r.stdout.decode(errors="replace")


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


# ------------------------------------------------------------------ Prometheus API
class Prom:
    def __init__(self, addr):
        self.base = f"http://{addr}"

    def api(self, path, **params):
        url = f"{self.base}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        try:
            body = json.loads(http_get(url, timeout=10))
        except urllib.error.HTTPError as e:
            body = json.loads(e.read().decode() or "{}")
        if body.get("status") != "success":
            raise TestFailure(f"Prometheus API {path} {params}: {body.get('errorType')}: "
                              f"{body.get('error')}")
        return body["data"]

    def query(self, expr):
        data = self.api("query", query=expr)
        if data["resultType"] != "vector":
            raise TestFailure(f"query returned {data['resultType']}, not a vector: {expr}")
        return data["result"]

    def ready(self):
        try:
            http_get(f"{self.base}/-/ready", timeout=1)
            return True
        except (urllib.error.URLError, ConnectionError, OSError):
            return False


def poll(what, deadline, fn, interval=0.5):
    """Calls fn() until it returns (ok, detail) with ok; raises with the last detail."""
    detail = ""
    while True:
        ok, detail = fn()
        if ok:
            return detail
        if time.time() >= deadline:
            raise TestFailure(f"timed out waiting for {what}: {detail}")
        time.sleep(interval)


def count_rules(path):
    text = open(path).read()
    return len(re.findall(r"^\s*-\s+(?:record|alert):", text, re.M))


# ------------------------------------------------------------------ the test
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build_dir", default=os.environ.get("KG_BUILD_DIR", "build"),
                    help="kg build directory, relative to the repository (default $KG_BUILD_DIR "
                         "or build)")
    ap.add_argument("--prometheus", default="/usr/bin/prometheus")
    ap.add_argument("--rules", default=os.path.join(HERE, "rules.yml"))
    ap.add_argument("--dashboard", default=os.path.join(REPO, "deploy/grafana/kg-dashboard.json"))
    ap.add_argument("--budget", type=float, default=110, help="seconds for the whole test")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()

    start = time.time()
    budget_end = start + args.budget

    def until(seconds):
        return min(time.time() + seconds, budget_end)

    def run_bounded(argv, timeout, ok_codes=(0,)):
        return run(argv, max(1.0, min(timeout, budget_end - time.time())), ok_codes)

    build = args.build_dir if os.path.isabs(args.build_dir) else os.path.join(REPO, args.build_dir)
    kg_server = os.path.join(build, "server/app/kg_server")
    kgctl = os.path.join(build, "client/kgctl/kgctl")
    kg_bench = os.path.join(build, "bench/kg_bench")
    for f in (kg_server, kgctl, kg_bench, args.prometheus):
        if not os.access(f, os.X_OK):
            print(f"live_test: FAIL: {f} is missing (build kg first; prometheus: apt-get install "
                  "prometheus)", file=sys.stderr)
            return 1

    try:
        dash = json.load(open(args.dashboard))
        lint_dashboard(dash)
    except (OSError, ValueError, TestFailure) as e:
        print(f"live_test: FAIL: {args.dashboard}: {e}", file=sys.stderr)
        return 1
    rules_total = count_rules(args.rules)

    tmp = tempfile.mkdtemp(prefix="kg-prom-live-")
    procs = Procs()
    failed = True

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)

    try:
        # ---- the cluster: two partition servers, then the front end
        common = ["--host=127.0.0.1", "--port=0", "--metrics_port=0", "--drain_timeout_ms=200",
                  "--log_level=warn"]
        parts = []
        for i, hosted in enumerate(("0,1", "2,3")):
            pf = os.path.join(tmp, f"partition{i}.ports")
            p = procs.start(f"partition{i}",
                            [kg_server, "--role=partition", "--partition_count=4",
                             f"--partitions={hosted}", f"--port_file={pf}"] + common,
                            os.path.join(tmp, f"partition{i}.log"))
            parts.append((p, pf, hosted))
        part_addrs = [wait_port_file(pf, p, f"partition{i}", until(30))
                      for i, (p, pf, _) in enumerate(parts)]
        cluster = os.path.join(tmp, "cluster.txt")
        with open(cluster, "w") as f:
            f.write("partitions 4\n")
            for (grpc_addr, _), (_, _, hosted) in zip(part_addrs, parts):
                f.write(f"server {grpc_addr} {hosted}\n")
        fpf = os.path.join(tmp, "frontend.ports")
        front = procs.start("frontend", [kg_server, "--role=frontend", f"--cluster_file={cluster}",
                                         f"--port_file={fpf}"] + common,
                            os.path.join(tmp, "frontend.log"))
        front_grpc, front_metrics = wait_port_file(fpf, front, "frontend", until(40))
        log(f"cluster: front end {front_grpc} (metrics {front_metrics}), partition servers "
            + ", ".join(f"{g} (metrics {m})" for g, m in part_addrs))

        bundle_metric = all("kg_model_bundle_info" in http_get(f"http://{m}/metrics")
                            for _, m in part_addrs)
        if not bundle_metric:
            log("kg_model_bundle_info is not in the partition servers' /metrics: this kg_server "
                "predates the model bundle gauge (its panel will fail)")

        # ---- Prometheus
        prom_cfg = os.path.join(tmp, "prometheus.yml")
        with open(prom_cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "  evaluation_interval: 1s\n")
            f.write(f"rule_files:\n  - {json.dumps(os.path.abspath(args.rules))}\n")
            f.write("scrape_configs:\n")
            f.write(f"  - job_name: kg-frontend\n    static_configs:\n"
                    f"      - targets: [{json.dumps(front_metrics)}]\n")
            f.write("  - job_name: kg-partition\n    static_configs:\n      - targets: ["
                    + ", ".join(json.dumps(m) for _, m in part_addrs) + "]\n")
        prom = None
        for attempt in range(3):
            prom_addr = f"127.0.0.1:{free_port()}"
            pp = procs.start("prometheus", [
                args.prometheus, f"--config.file={prom_cfg}",
                f"--storage.tsdb.path={os.path.join(tmp, 'tsdb')}",
                f"--web.listen-address={prom_addr}", "--storage.tsdb.retention.time=1h",
                "--log.level=warn"], os.path.join(tmp, f"prometheus{attempt}.log"))
            prom = Prom(prom_addr)
            deadline = until(20)
            while time.time() < deadline and pp.poll() is None and not prom.ready():
                time.sleep(0.2)
            if pp.poll() is None and prom.ready():
                break
            procs.stop(pp)
            prom = None  # the port was taken meanwhile, or it failed: see its log
        if prom is None:
            raise TestFailure("Prometheus did not become ready (logs in " + tmp + ")")
        log(f"prometheus on {prom_addr}")

        # ---- targets and rules
        def targets_up():
            t = prom.api("targets", state="active")["activeTargets"]
            health = {x["scrapeUrl"]: x["health"] for x in t}
            return len(t) == 3 and all(h == "up" for h in health.values()), health
        poll("3 targets up", until(20), targets_up)
        log("targets: 3 up")

        def rules_ok():
            groups = prom.api("rules")["groups"]
            rules = [r for g in groups for r in g["rules"]]
            errs = [f"{r['name']}: {r.get('lastError')}" for r in rules if r.get("health") == "err"]
            if errs:
                raise TestFailure("rules evaluate with errors: " + "; ".join(errs))
            waiting = [r["name"] for r in rules if r.get("health") != "ok"]
            return (len(rules) == rules_total and not waiting,
                    f"{len(rules)} of {rules_total} rules loaded; not evaluated yet: {waiting}")
        poll("every rule loaded and evaluated", until(20), rules_ok)
        log(f"rules: {rules_total} loaded, health ok")

        # ---- template variables, as Grafana computes them for "All" (and recomputes on a
        # refresh: $service grows with the services called)
        values = {}

        def compute_variables():
            values.clear()
            for v in dash["templating"]["list"]:
                if v["type"] != "query":
                    continue
                q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
                m = re.fullmatch(r"\s*label_values\((?:(.*),\s*)?(\w+)\)\s*",
                                 substitute(q, values))
                if not m:
                    raise TestFailure(f"variable {v['name']}: unsupported query {q}")
                params = {"match[]": m.group(1)} if m.group(1) else {}
                opts = sorted(prom.api(f"label/{m.group(2)}/values", **params))
                if not opts:
                    raise TestFailure(f"variable {v['name']} has no values: {q}")
                values[v["name"]] = "(" + "|".join(prom_regex_escape(o) for o in opts) + ")"
        compute_variables()

        failures = []

        # ---- helpers reading the dashboard's panels
        def panel(title, ref="A"):
            for p in dashboard_panels(dash):
                if p.get("title") == title:
                    t = [t for t in p["targets"] if t["refId"] == ref][0]
                    return prom.query(substitute(t["expr"], values))
            raise TestFailure(f"the dashboard has no panel {title!r}")

        def value(res):
            return float(res[0]["value"][1]) if res else None

        def expect(what, fn, seconds=15):
            try:
                poll(what, until(seconds), fn)
            except TestFailure as e:
                failures.append(str(e))

        # ---- before any training: every partition has an empty bundle version at 0
        if bundle_metric:
            def no_bundle_yet():
                rows = {(r["metric"].get("partition"), r["metric"].get("model_version", ""),
                         r["value"][1]) for r in panel("Model bundle per partition")}
                want = {(str(i), "", "0") for i in range(4)}
                return rows == want, f"want {sorted(want)}, got {sorted(rows)}"
            expect("the model bundle panel to show no bundle on partitions 0-3", no_bundle_yet)
            if not failures:
                log("model bundle panel: no bundle on partitions 0-3 before the training")

        # ---- traffic: import, a training, reads, client-caused errors
        ctl = [kgctl, f"--addr={front_grpc}"]
        data = os.path.join(tmp, "graph.jsonl")
        out = run_bounded([kgctl, "generate", "--scale=0.05", "--seed=1", f"--out={data}"], 60)
        gen = json.loads(out.strip().splitlines()[-1])
        run_bounded(ctl + ["import", data], 60)
        log(f"imported {gen['entities']} entities, {gen['edges']} edges")
        # FAILED_PRECONDITION: no model yet
        run_bounded(ctl + ["categorize", "Nimbus trail running shoe"], 20, ok_codes=(1,))
        trained = None
        for line in run_bounded(ctl + ["train", "--epoch=2"], 120).splitlines():
            if '"modelVersion"' in line:
                trained = json.loads(line).get("modelVersion")
        if not trained:
            raise TestFailure("kgctl train printed no modelVersion")
        log(f"trained model bundle {trained}")
        run_bounded(ctl + ["get", "PRODUCT:1", "PRODUCT:2", "BUYER:7", "BRAND:3"], 20)
        run_bounded(ctl + ["neighbors", "BUYER:7", "--type=VIEWED", "--limit=5"], 20)
        run_bounded(ctl + ["count", "PRODUCT:1", "PRODUCT:2"], 20)
        run_bounded(ctl + ["traverse", "PRODUCT:1", "--hops=in:VIEWED,out:VIEWED"], 20)
        run_bounded(ctl + ["categorize", "Nimbus trail running shoe"], 20)
        # A method's series appear at its first call; let Prometheus see them at 0 before the
        # errors, or rate() cannot tell (a counter first seen at 1 has not increased).
        read_series = ('grpc_server_handled_total{job="kg-frontend",grpc_code="INVALID_ARGUMENT",'
                       'grpc_method=~"GetNeighbors|CountNeighbors|Traverse"}')
        poll("the read methods' series in Prometheus", until(20),
             lambda: (len(prom.query(read_series)) == 3, "not scraped yet"), interval=0.2)
        for bad in (["neighbors", "BUYER:7", "--type=VIEWED", "--limit=5000"],
                    ["count", "PRODUCT:1", "--since_ms=5", "--until_ms=2"],
                    ["traverse", "PRODUCT:1", "--hops=in:VIEWED,out:VIEWED,in:VIEWED,out:VIEWED,"
                                              "in:VIEWED"]):
            run_bounded(ctl + bad, 20, ok_codes=(1,))  # INVALID_ARGUMENT from the server

        # ---- every panel query returns data
        compute_variables()
        for name, val in values.items():
            log(f"${name} = {val}")
        queries = []
        for p in dashboard_panels(dash):
            for t in p.get("targets", []):
                if t.get("expr") and not t.get("hide"):
                    queries.append((p["title"], t["refId"], substitute(t["expr"], values)))

        def panels_have_data():
            empty = []
            for title, ref, expr in queries:
                if not prom.query(expr):
                    empty.append(f"{title!r} {ref}: {expr}")
            return not empty, "no series for:\n    " + "\n    ".join(empty)
        try:
            poll("every panel query to return data", until(25), panels_have_data, interval=1)
            log(f"dashboard: all {len(queries)} queries of "
                f"{len([p for p in dashboard_panels(dash) if p.get('type') != 'row'])} panels "
                "return data")
        except TestFailure as e:
            failures.append(str(e))

        # ---- what some panels show
        n_failures = len(failures)
        expect("panel Entities to show the imported entities",
               lambda: (value(panel("Entities")) == gen["entities"],
                        f"shows {value(panel('Entities'))}, imported {gen['entities']}"))
        expect("panel Edges to show the imported edges",
               lambda: (value(panel("Edges")) == gen["edges"],
                        f"shows {value(panel('Edges'))}, imported {gen['edges']}"))

        def by_code():
            return {r["metric"].get("grpc_code"): float(r["value"][1])
                    for r in panel("Error ratio by code")}
        expect("panel 'Error ratio by code' to show the INVALID_ARGUMENT calls",
               lambda: (by_code().get("INVALID_ARGUMENT", 0) > 0, f"shows {by_code()}"))
        expect("panel 'Server error ratio' to count no client-caused error",
               lambda: (value(panel("Server error ratio")) == 0,
                        f"shows {value(panel('Server error ratio'))}"))
        expect("panel 'Import progress' to show accepted and rejected records",
               lambda: ({r["metric"].get("result") for r in panel("Import progress")}
                        == {"accepted", "rejected"},
                        f"series {[r['metric'] for r in panel('Import progress')]}"))
        if bundle_metric:
            def bundles_installed():
                rows = panel("Model bundle per partition")
                got = {(r["metric"].get("partition"), r["metric"].get("model_version", ""),
                        r["value"][1]) for r in rows}
                want = {(str(i), trained, "1") for i in range(4)}
                return got == want, f"want {sorted(want)}, got {sorted(got)}"
            expect("the trained bundle on every partition", bundles_installed)
        else:
            failures.append("kg_model_bundle_info is missing from kg_server's /metrics (rebuild "
                            "kg_server with the model bundle gauge)")

        if len(failures) == n_failures:
            log("panels: entities, edges, errors by code, server error ratio, import and model "
                f"bundle ({trained}) as expected")

        def no_alerts():
            active = prom.api("alerts")["alerts"]
            return not active, "; ".join(f"{a['labels']['alertname']} {a['state']} "
                                         f"{a['labels']}" for a in active)
        # A few evaluations, for a pending alert of a transient state (the bundle being
        # installed partition by partition) to clear.
        n_failures = len(failures)
        expect("no alert active in the healthy cluster", no_alerts, seconds=5)
        if len(failures) == n_failures:
            log("alerts: none active in the healthy cluster")

        # ---- a partition server dies: partitions 2 and 3 become unreachable
        dead_proc = parts[1][0]
        dead_metrics = part_addrs[1][1]
        dead_proc.kill()
        dead_proc.wait(timeout=10)
        log(f"killed partition server 2,3 (metrics {dead_metrics}); kg_bench for 2s")
        run_bounded([kg_bench, f"--addr={front_grpc}", "--rpc=GetEntities", "--duration=2",
                     "--warmup=0", "--baseline=false", "--concurrency=8"], 60)

        def failure_alerts():
            got = set()
            for a in prom.api("alerts")["alerts"]:
                lab = a["labels"]
                if lab["alertname"] == "KgPartitionUnreachable":
                    got.add(("KgPartitionUnreachable", lab.get("partition")))
                elif lab["alertname"] == "KgServerDown":
                    got.add(("KgServerDown", lab.get("instance")))
            want = {("KgPartitionUnreachable", "2"), ("KgPartitionUnreachable", "3"),
                    ("KgServerDown", dead_metrics)}
            if got - want:
                raise TestFailure(f"unexpected alerts: {sorted(got - want)}")
            return got == want, f"active {sorted(got)}, want {sorted(want)}"
        try:
            poll("KgPartitionUnreachable for partitions 2, 3 and KgServerDown", until(25),
                 failure_alerts)
            log("alerts: KgPartitionUnreachable (partitions 2, 3) and KgServerDown active")
        except TestFailure as e:
            failures.append(str(e))

        if failures:
            raise TestFailure("\n".join(failures))
        failed = False
        log(f"PASS in {time.time() - start:.1f}s")
        return 0
    except TestFailure as e:
        print(f"live_test: FAIL:\n{e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        print(f"live_test: interrupted ({e})", file=sys.stderr)
        return 1
    except subprocess.TimeoutExpired as e:
        print(f"live_test: FAIL: timed out: {e}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        procs.stop_all()
        if failed:
            for name in sorted(os.listdir(tmp)):
                if name.endswith(".log"):
                    text = open(os.path.join(tmp, name), errors="replace").read()
                    if text.strip():
                        print(f"--- {name} (last lines)\n" + "\n".join(
                            text.splitlines()[-15:]), file=sys.stderr)
        if args.keep or failed:
            print(f"live_test: files kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
