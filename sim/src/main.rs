//! `make sim`: the core in a simulated world, far faster than real time,
//! every source of chance drawn from one seed (TigerBeetle's VOPR, in small).
//!
//!   SIM_SEED=   the first seed (default 1)
//!   SIM_SEEDS=  how many seeds from it (default 1)
//!   SIM_DAYS=   virtual days per world (default 0.01; fractions are fine)
//!   SIM_CLIENTS= concurrent virtual players (default 20)
//!   SIM_FPS=    the cameras' frame rate (default 1)
//!
//! A failing seed prints what broke, the last events before it, and the
//! command that replays it, shortened to end just after the failure.

mod media;
mod player;
mod receiver;
mod rng;
mod world;

use std::time::Instant;

use world::{Params, World, SECOND};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => default,
        Ok(v) => v.trim().parse().unwrap_or_else(|_| {
            eprintln!("sim: {name}={v} is not a number");
            std::process::exit(2)
        }),
        Err(_) => default,
    }
}

/// Hostile requests from the fuzz corpora, sent by a few players instead of RTSP.
fn corpus() -> Vec<Vec<u8>> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus");
    let mut out = Vec::new();
    for dir in ["rtsp_request", "rtsp_server"] {
        let Ok(entries) = std::fs::read_dir(format!("{root}/{dir}")) else { continue };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            if let Ok(bytes) = std::fs::read(&path) {
                if !bytes.is_empty() && bytes.len() <= 64 * 1024 {
                    out.push(bytes);
                }
            }
        }
    }
    out
}

fn cpu_seconds() -> f64 {
    // utime + stime of this process, from /proc (ticks of 1/100 s).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<f64>().ok()).sum();
    ticks / 100.0
}

fn main() {
    let first: u64 = env("SIM_SEED", 1);
    let seeds: u64 = env("SIM_SEEDS", 1);
    let days: f64 = env("SIM_DAYS", 0.01);
    let clients: usize = env("SIM_CLIENTS", 20);
    let fps: u64 = env("SIM_FPS", 1);
    if fps == 0 || fps > 120 || clients == 0 || days <= 0.0 {
        eprintln!("sim: SIM_FPS 1..120, SIM_CLIENTS at least 1, SIM_DAYS over 0");
        std::process::exit(2);
    }
    let seconds = ((days * 86_400.0) as u64).max(1);
    let corpus = corpus();
    let cpu0 = cpu_seconds();
    let wall0 = Instant::now();
    let (mut virtual_us, mut frames, mut lifecycles, mut steps, mut pushed, mut reconnects) = (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    for seed in first..first + seeds {
        let params = Params { seed, seconds, clients, fps };
        match World::new(params, corpus.clone()).run() {
            Ok(s) => {
                virtual_us += s.virtual_us;
                frames += s.frames_delivered;
                lifecycles += s.lifecycles;
                steps += s.steps;
                pushed += s.pushed_frames;
                reconnects += s.pusher_reconnects;
            }
            Err(f) => {
                eprintln!("sim: seed {seed} failed at {:.6} s of virtual time:", f.at_us as f64 / 1e6);
                eprintln!("  {}", f.message);
                eprintln!("the last events before it:");
                for line in &f.trace {
                    eprintln!("  {line}");
                }
                let replay_days = ((f.at_us / SECOND + 1) as f64 / 86_400.0).max(1e-6);
                eprintln!(
                    "replay: make sim SIM_SEED={seed} SIM_DAYS={replay_days:.6} SIM_CLIENTS={clients} SIM_FPS={fps}"
                );
                std::process::exit(1);
            }
        }
    }
    let cpu = (cpu_seconds() - cpu0).max(1e-3);
    let virtual_s = virtual_us as f64 / 1e6;
    println!(
        "sim: {seeds} seed(s) from {first} passed: {:.1} virtual days ({virtual_s:.0} s), {clients} players, {fps} fps",
        virtual_s / 86_400.0
    );
    println!(
        "sim: {lifecycles} player lifecycles, {frames} frames delivered, {pushed} frames pushed ({reconnects} reconnections), {steps} steps"
    );
    println!(
        "sim: {cpu:.2} CPU s ({:.2} s wall): {:.0} virtual s per CPU s, {:.2} virtual days per CPU minute, {:.0} ns per delivered frame",
        wall0.elapsed().as_secs_f64(),
        virtual_s / cpu,
        virtual_s / 86_400.0 / (cpu / 60.0),
        cpu * 1e9 / frames.max(1) as f64
    );
}
