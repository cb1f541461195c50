//! Scale benchmark: forewarn over a large synthetic cluster, against the floor (parsing the
//! same bytes into `serde_json::Value`) and against a jq pipeline.
//!
//! Run with `cargo bench --bench scale` (defaults: 5,000 namespaces, 100 policies, 1,000,000
//! results). Flags after `--`: `--namespaces N --policies N --results N --files N --seed N
//! --dir DIR --runs N --no-live --only-live --no-jq`. It generates the cluster into `DIR` (default
//! `target/scale`), then measures in one run:
//!
//! 1. load + plan in this process (best of `--runs`), on all cores and on one;
//! 2. the floor: each file read and parsed into a `serde_json::Value`, one after the other;
//! 3. `forewarn plan --output json` as a child process: wall time and peak RSS;
//! 4. jq computing failing counts per policy × namespace from the same files (skipped when jq
//!    is not installed);
//! 5. the live source's retained heap for two result counts over the same policies ×
//!    namespaces;
//! 6. the same reports as one file, as people dump them (`kubectl get policyreports -A -o
//!    json`, and `-o yaml`): load + plan in process, `forewarn plan --output json` (wall time,
//!    peak RSS, output size) and jq on the one JSON file (`--no-one-file` skips this,
//!    `--no-yaml` the YAML shape).
//!
//! `--only-live` measures only the live source (5.), at the sizes given.
//!
//! A benchmark, not a test: it prints figures and ratios and asserts nothing about time.

mod synth;

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

/// Counts live heap bytes when switched on (for the live-source measurement only).
struct Counting;
static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static PEAK_BYTES: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            let now = LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
            PEAK_BYTES.fetch_max(now + layout.size() as isize, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const NOW: &str = "2026-12-01T08:00:00+01:00";

struct Args {
    sizes: synth::Sizes,
    dir: PathBuf,
    runs: usize,
    live: bool,
    only_live: bool,
    jq: bool,
    one_file: bool,
    yaml: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        sizes: synth::Sizes {
            namespaces: 5_000,
            policies: 100,
            results: 1_000_000,
            files: 50,
            seed: 42,
        },
        dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("target/scale"),
        runs: 3,
        live: true,
        only_live: false,
        jq: true,
        one_file: true,
        yaml: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut num = |name: &str| -> anyhow::Result<usize> {
            let v = it
                .next()
                .ok_or_else(|| anyhow::anyhow!("{name} needs a value"))?;
            Ok(v.replace(['_', ','], "").parse()?)
        };
        match a.as_str() {
            "--namespaces" => args.sizes.namespaces = num("--namespaces")?,
            "--policies" => args.sizes.policies = num("--policies")?,
            "--results" => args.sizes.results = num("--results")?,
            "--files" => args.sizes.files = num("--files")?,
            "--seed" => args.sizes.seed = num("--seed")? as u64,
            "--runs" => args.runs = num("--runs")?.max(1),
            "--dir" => {
                args.dir = it
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--dir needs a value"))?
                    .into()
            }
            "--no-live" => args.live = false,
            "--only-live" => args.only_live = true,
            "--no-jq" => args.jq = false,
            "--no-one-file" => args.one_file = false,
            "--no-yaml" => args.yaml = false,
            // cargo bench passes --bench to harness-less benches.
            "--bench" => {}
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    Ok(args)
}

fn main() -> anyhow::Result<()> {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--child-live") {
        return child_live(Path::new(&argv[2]));
    }
    if argv.get(1).map(String::as_str) == Some("--child-load") {
        return child_load(Path::new(&argv[2]));
    }
    if argv.get(1).map(String::as_str) == Some("--child-measure") {
        return child_measure(&argv[2..]);
    }
    let args = parse_args()?;
    let s = &args.sizes;
    println!(
        "machine: {} cores, {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model()
    );
    if args.only_live {
        return live_comparison(&args);
    }
    println!(
        "cluster: {} namespaces, {} policies, {} results (seed {})",
        s.namespaces, s.policies, s.results, s.seed
    );

    let t = Instant::now();
    let written = synth::generate(&args.dir, s)?;
    println!(
        "generated {} reports, {} results ({} failing) in {} files, {:.1} MB, in {:.1} s -> {}",
        written.reports,
        written.results,
        written.failing,
        written.files,
        mb(written.bytes),
        t.elapsed().as_secs_f64(),
        args.dir.display()
    );
    let snap = args.dir.join("snapshot");
    let config_path = args.dir.join("forewarn.yaml");
    let config = forewarn::config::Config::load(&config_path)?;
    let now = chrono::DateTime::parse_from_rfc3339(NOW)?;

    // Warm the page cache so every contender reads from memory.
    let files = json_files(&snap)?;
    for f in &files {
        std::fs::read(f)?;
    }

    // 1. forewarn in process.
    let mut load_best = Duration::MAX;
    let mut plan_best = Duration::MAX;
    let mut notices = 0;
    let mut pairs = 0;
    let mut problems = 0;
    for _ in 0..args.runs {
        let t = Instant::now();
        let inv = forewarn::inventory::snapshot::load_dir(&snap)?;
        let loaded = t.elapsed();
        let t = Instant::now();
        let planned = forewarn::plan::plan(std::slice::from_ref(&inv), &config, now);
        let planned_in = t.elapsed();
        if load_best == Duration::MAX || loaded + planned_in < load_best + plan_best {
            load_best = loaded;
            plan_best = planned_in;
        }
        notices = planned.notices.len();
        pairs = inv.results.len();
        problems = inv.problems.len() + planned.problems.len();
    }
    let forewarn_total = load_best + plan_best;
    let mut one_thread = Duration::MAX;
    for _ in 0..args.runs {
        let t = Instant::now();
        let inv = forewarn::inventory::snapshot::load_dir_with(&snap, 1)?;
        let _ = forewarn::plan::plan(std::slice::from_ref(&inv), &config, now);
        one_thread = one_thread.min(t.elapsed());
    }

    // 2. The floor: read + serde_json::Value, file after file.
    let mut floor = Duration::MAX;
    for _ in 0..args.runs {
        let t = Instant::now();
        for f in &files {
            let text = std::fs::read_to_string(f)?;
            let v: serde_json::Value = serde_json::from_str(&text)?;
            std::hint::black_box(&v);
        }
        floor = floor.min(t.elapsed());
    }

    // 3. The real command, as a child: wall time and peak RSS.
    let bin = env!("CARGO_BIN_EXE_forewarn");
    let mut cmd = measured(bin)?;
    cmd.args(["plan", "--snapshot"])
        .arg(&snap)
        .arg("--config")
        .arg(&config_path)
        .args(["--now", NOW, "--output", "json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child_best = Duration::MAX;
    let mut child_rss = 0u64;
    for _ in 0..args.runs {
        let (elapsed, rss) = run_measured(&mut cmd)?;
        child_best = child_best.min(elapsed);
        child_rss = child_rss.max(rss);
    }

    // 4. jq.
    let jq_time = if !args.jq {
        None
    } else if Command::new("jq").arg("--version").output().is_err() {
        println!("jq: not installed, skipped (apt-get install jq to compare)");
        None
    } else {
        let program = r#"reduce (inputs | .items[]? | select(.kind == "PolicyReport") | .metadata.namespace as $ns | .results[]? | select(.result == "fail") | "\(.policy) \($ns)") as $k ({}; .[$k] += 1) | length"#;
        let report_files: Vec<&PathBuf> = files
            .iter()
            .filter(|f| {
                f.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("policyreports"))
            })
            .collect();
        let t = Instant::now();
        let out = Command::new("jq")
            .args(["-n", program])
            .args(&report_files)
            .output()?;
        let elapsed = t.elapsed();
        anyhow::ensure!(
            out.status.success(),
            "jq failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        println!(
            "jq: {} failing policy x namespace pairs",
            String::from_utf8_lossy(&out.stdout).trim()
        );
        Some(elapsed)
    };

    println!();
    println!(
        "inventory: {pairs} policy x namespace summaries, {notices} notices, {problems} problems"
    );
    println!("| measure | time | ratio |");
    println!("|---|---|---|");
    println!(
        "| serde_json::Value parse of the same bytes (floor, 1 thread) | {} | 1.00x |",
        secs(floor)
    );
    println!(
        "| forewarn load + plan, in process ({} threads) | {} (load {}, plan {}) | {:.2}x floor |",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        secs(forewarn_total),
        secs(load_best),
        secs(plan_best),
        ratio(forewarn_total, floor)
    );
    println!(
        "| forewarn load + plan, in process (1 thread) | {} | {:.2}x floor |",
        secs(one_thread),
        ratio(one_thread, floor)
    );
    println!(
        "| `forewarn plan --output json` (whole process) | {} | {:.2}x floor |",
        secs(child_best),
        ratio(child_best, floor)
    );
    if let Some(jq) = jq_time {
        println!(
            "| jq failing counts per policy x namespace | {} | forewarn {:.1}x faster |",
            secs(jq),
            ratio(jq, child_best)
        );
    }
    println!("peak RSS of `forewarn plan`: {:.1} MB", mb(child_rss));
    let out = Command::new(std::env::current_exe()?)
        .arg("--child-load")
        .arg(&snap)
        .output()?;
    let text = String::from_utf8(out.stdout)?;
    let v: Vec<f64> = text
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() >= 3 {
        println!(
            "load alone: peak heap {:.1} MB, inventory heap {:.1} MB, peak RSS {:.1} MB",
            v[0] / 1e6,
            v[1] / 1e6,
            v[2] * 1024.0 / 1e6
        );
    }

    if args.one_file {
        one_file_shapes(&args, &config, now, child_best)?;
    }
    if args.live {
        live_comparison(&args)?;
    }
    Ok(())
}

/// 6. The reports as one JSON file and as one block-YAML file.
fn one_file_shapes(
    args: &Args,
    config: &forewarn::config::Config,
    now: chrono::DateTime<chrono::FixedOffset>,
    multi_child: Duration,
) -> anyhow::Result<()> {
    println!();
    let t = Instant::now();
    let (json_bytes, yaml_bytes) = synth::one_file(&args.dir)?;
    println!(
        "one file: {:.1} MB of JSON, {:.1} MB of block YAML, written in {:.1} s",
        mb(json_bytes),
        mb(yaml_bytes),
        t.elapsed().as_secs_f64()
    );
    let config_path = args.dir.join("forewarn.yaml");
    let mut shapes = vec![(
        "one JSON List",
        args.dir.join("one-json"),
        "policyreports.json",
    )];
    if args.yaml {
        shapes.push((
            "one block-YAML List",
            args.dir.join("one-yaml"),
            "policyreports.yaml",
        ));
    }
    println!(
        "| shape | load + plan in process | `forewarn plan --output json` | peak RSS | output |"
    );
    println!("|---|---|---|---|---|");
    let mut json_child = None;
    for (label, dir, file) in &shapes {
        std::fs::read(dir.join(file))?;
        let mut best = Duration::MAX;
        let mut load = Duration::MAX;
        for _ in 0..args.runs {
            let t = Instant::now();
            let inv = forewarn::inventory::snapshot::load_dir(dir)?;
            let loaded = t.elapsed();
            let planned = forewarn::plan::plan(std::slice::from_ref(&inv), config, now);
            std::hint::black_box(&planned);
            if t.elapsed() < best {
                best = t.elapsed();
                load = loaded;
            }
        }
        let out_path = args.dir.join("plan-output.json");
        let mut cmd = measured(env!("CARGO_BIN_EXE_forewarn"))?;
        cmd.args(["plan", "--snapshot"])
            .arg(dir)
            .arg("--config")
            .arg(&config_path)
            .args(["--now", NOW, "--output", "json"])
            .stdout(std::fs::File::create(&out_path)?)
            .stderr(Stdio::null());
        let mut child_best = Duration::MAX;
        let mut rss = 0u64;
        for _ in 0..args.runs {
            cmd.stdout(std::fs::File::create(&out_path)?);
            let (elapsed, r) = run_measured(&mut cmd)?;
            child_best = child_best.min(elapsed);
            rss = rss.max(r);
        }
        let output = std::fs::metadata(&out_path)?.len();
        std::fs::remove_file(&out_path)?;
        if json_child.is_none() {
            json_child = Some(child_best);
        }
        println!(
            "| {label} | {} (load {}) | {} | {:.1} MB | {:.1} MB |",
            secs(best),
            secs(load),
            secs(child_best),
            mb(rss),
            mb(output)
        );
    }
    let json_child = json_child.unwrap_or(Duration::MAX);
    println!(
        "one JSON file vs the multi-file shape (whole process): {:.2}x",
        ratio(json_child, multi_child)
    );
    if args.jq && Command::new("jq").arg("--version").output().is_ok() {
        let program = r#"reduce (inputs | .items[]? | select(.kind == "PolicyReport") | .metadata.namespace as $ns | .results[]? | select(.result == "fail") | "\(.policy) \($ns)") as $k ({}; .[$k] += 1) | length"#;
        let (elapsed, rss) = run_measured(
            measured("jq")?
                .args(["-n", program])
                .arg(args.dir.join("one-json/policyreports.json"))
                .stdout(Stdio::null()),
        )?;
        println!(
            "jq on the one JSON file: {} ({:.1} MB peak RSS); forewarn {:.1}x faster",
            secs(elapsed),
            mb(rss),
            ratio(elapsed, json_child)
        );
    }
    Ok(())
}

/// 5. The live source at two result counts over the same policies × namespaces.
fn live_comparison(args: &Args) -> anyhow::Result<()> {
    println!();
    let namespaces = (args.sizes.namespaces / 10).max(1);
    println!(
        "live source: {} namespaces x {} policies, retained heap after listing every object",
        namespaces, args.sizes.policies
    );
    println!("| results | reports | summaries | retained heap | per result |");
    println!("|---|---|---|---|---|");
    for results in [args.sizes.results / 4, args.sizes.results] {
        let sizes = synth::Sizes {
            namespaces,
            results,
            files: 10,
            ..args.sizes.clone()
        };
        let dir = args.dir.join(format!("live-{results}"));
        let written = synth::generate(&dir, &sizes)?;
        let out = Command::new(std::env::current_exe()?)
            .arg("--child-live")
            .arg(dir.join("snapshot"))
            .stderr(Stdio::inherit())
            .output()?;
        anyhow::ensure!(out.status.success(), "live child failed");
        let text = String::from_utf8(out.stdout)?;
        let mut fields = text.split_whitespace();
        let retained: f64 = fields.next().unwrap_or("0").parse()?;
        let summaries = fields.next().unwrap_or("0");
        println!(
            "| {} | {} | {} | {:.1} MB | {:.0} B |",
            written.results,
            written.reports,
            summaries,
            retained / 1e6,
            retained / written.results as f64
        );
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}

/// A step of a breakdown: prints, after `indent`, how much heap was freed since the last step.
fn freed(indent: &'static str) -> impl FnMut(&str) {
    let mut last = LIVE_BYTES.load(Ordering::SeqCst);
    move |what: &str| {
        let now = LIVE_BYTES.load(Ordering::SeqCst);
        eprintln!("{indent}{what}: {:.1} MB", (last - now) as f64 / 1e6);
        last = now;
    }
}

/// Loads `dir` and prints the peak heap during the load, the heap the inventory keeps, and the
/// peak RSS (VmHWM) of this process.
fn child_load(dir: &Path) -> anyhow::Result<()> {
    COUNTING.store(true, Ordering::SeqCst);
    let base = LIVE_BYTES.load(Ordering::SeqCst);
    PEAK_BYTES.store(base, Ordering::SeqCst);
    let inv = forewarn::inventory::snapshot::load_dir(dir)?;
    let retained = LIVE_BYTES.load(Ordering::SeqCst) - base;
    let peak = PEAK_BYTES.load(Ordering::SeqCst) - base;
    let hwm = std::fs::read_to_string("/proc/self/status")?
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_default();
    println!("{peak} {retained} {hwm} {}", inv.results.len());
    // With a config: the heap the planner adds on top of the inventory, at its peak and kept.
    if let Some(config) = std::env::var_os("SCALE_PLAN_CONFIG") {
        let config = forewarn::config::Config::load(Path::new(&config))?;
        let now = chrono::DateTime::parse_from_rfc3339(NOW)?;
        let before = LIVE_BYTES.load(Ordering::SeqCst);
        PEAK_BYTES.store(before, Ordering::SeqCst);
        let (history, _) = forewarn::deliver::tick::with_today(
            Default::default(),
            std::slice::from_ref(&inv),
            &config,
            now,
        );
        eprintln!(
            "today's history: peak {:.1} MB, kept {:.1} MB",
            (PEAK_BYTES.load(Ordering::SeqCst) - before) as f64 / 1e6,
            (LIVE_BYTES.load(Ordering::SeqCst) - before) as f64 / 1e6
        );
        drop(history);
        let before = LIVE_BYTES.load(Ordering::SeqCst);
        PEAK_BYTES.store(before, Ordering::SeqCst);
        let planned = forewarn::plan::plan(std::slice::from_ref(&inv), &config, now);
        eprintln!(
            "plan: {} notices, peak heap above the inventory {:.1} MB, kept {:.1} MB",
            planned.notices.len(),
            (PEAK_BYTES.load(Ordering::SeqCst) - before) as f64 / 1e6,
            (LIVE_BYTES.load(Ordering::SeqCst) - before) as f64 / 1e6
        );
        let mut planned = planned;
        let mut step = freed("  ");
        for n in &mut planned.notices {
            n.namespaces = Default::default();
        }
        step("namespaces");
        let mut kinds: Vec<String> = planned
            .notices
            .iter()
            .map(|n| format!("{:?}", n.kind))
            .collect();
        kinds.sort();
        kinds.dedup();
        for kind in kinds {
            for n in planned.notices.iter_mut() {
                if format!("{:?}", n.kind) == kind {
                    n.payload = forewarn::plan::views::Payload::Announce(None);
                }
            }
            step(&format!("payloads of {kind}"));
        }
        drop(std::mem::take(&mut planned.notices));
        step("notices");
        drop(planned);
        step("rest of the plan");
    }
    if std::env::var_os("SCALE_BREAKDOWN").is_some() {
        let mut inv = inv;
        let mut step = freed("");
        drop(std::mem::take(&mut inv.findings));
        step("findings");
        drop(std::mem::take(&mut inv.results));
        step("results (summaries with their samples and rules)");
        drop(inv);
        step("rest");
    }
    Ok(())
}

/// Feeds every object of `dir` to a `LiveInventory` as the watchers do, and prints the heap it
/// keeps, and the number of summaries folded from it.
fn child_live(dir: &Path) -> anyhow::Result<()> {
    use forewarn::inventory::kube::LiveInventory;
    let live = LiveInventory::new();
    let resource = "policyreports.wgpolicyk8s.io";
    let before = {
        COUNTING.store(true, Ordering::SeqCst);
        LIVE_BYTES.load(Ordering::SeqCst)
    };
    live.watching(resource);
    live.relist_started(resource);
    for f in json_files(dir)? {
        let text = std::fs::read_to_string(&f)?;
        let list: serde_json::Value = serde_json::from_str(&text)?;
        drop(text);
        for item in list["items"].as_array().into_iter().flatten() {
            let res = match item["kind"].as_str() {
                Some("PolicyReport") => resource,
                Some(other) => other,
                None => "unknown",
            };
            live.apply(res, item);
        }
    }
    live.relist_done(resource);
    live.discovery_done();
    let retained = LIVE_BYTES.load(Ordering::SeqCst) - before;
    let inv = forewarn::inventory::snapshot::InventorySource::load(&live);
    println!(
        "{retained} {}",
        inv.map_or(0, |c| c.iter().map(|i| i.results.len()).sum::<usize>())
    );
    Ok(())
}

fn json_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    Ok(files)
}

/// A command measured by [`run_measured`]: `program` started by a small launcher (this
/// benchmark re-executed), so that its peak RSS is its own. A child started straight from this
/// process would report at least this process's RSS at the fork (Linux keeps the larger of the
/// old and the new memory's high-water mark across `exec`), and this process holds the
/// in-process runs' memory.
fn measured(program: impl AsRef<std::ffi::OsStr>) -> anyhow::Result<Command> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("--child-measure").arg(program);
    Ok(cmd)
}

/// Runs a command made by [`measured`], returning its wall time and peak resident set size in
/// bytes.
fn run_measured(cmd: &mut Command) -> anyhow::Result<(Duration, u64)> {
    let out = cmd.stderr(Stdio::piped()).output()?;
    // Exit 1 means problems were found in the input (the synthetic unowned namespaces).
    anyhow::ensure!(
        out.status.code().is_some_and(|c| c <= 1),
        "measured command failed"
    );
    let text = String::from_utf8_lossy(&out.stderr);
    let mut v = text
        .split_whitespace()
        .filter_map(|x| x.parse::<u64>().ok());
    let (Some(nanos), Some(rss)) = (v.next(), v.next()) else {
        anyhow::bail!("no measurement from the launcher: {text}");
    };
    Ok((Duration::from_nanos(nanos), rss))
}

/// The launcher: runs `args` (program and arguments, stdout inherited, stderr dropped) and
/// prints its wall time in nanoseconds and its peak RSS in bytes to stderr; exits with its
/// exit code.
fn child_measure(args: &[String]) -> anyhow::Result<()> {
    let (program, rest) = args
        .split_first()
        .ok_or_else(|| anyhow::anyhow!("--child-measure needs a program"))?;
    let t = Instant::now();
    let child = Command::new(program)
        .args(rest)
        .stderr(Stdio::null())
        .spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, not yet waited for; the pointers are valid for the call.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = t.elapsed();
    anyhow::ensure!(rc == pid, "wait4 failed");
    std::mem::forget(child);
    eprintln!("{} {}", elapsed.as_nanos(), usage.ru_maxrss as u64 * 1024);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        101
    };
    std::process::exit(code)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}
