//! Benchmarks only: see `benches/` and docs/PERFORMANCE.md. What the
//! benchmark files share: same-run ratios measured interleaved.

#![allow(clippy::print_stderr, clippy::indexing_slicing)]

use std::time::Duration;

/// Times `a` and `b` in alternating batches (a, b, then b, a, ...) and
/// prints the median time of each and the median of the per-round ratios
/// `a / b`, so that drift on a shared, noisy machine falls on both sides
/// alike. Each closure runs `n` iterations and returns the time they took.
/// A `cargo bench` run does 1,000 rounds; the single run of `cargo test`
/// does 2 (a smoke test of the code path).
pub fn paired(label: &str, a: impl FnMut(u64) -> Duration, b: impl FnMut(u64) -> Duration) -> f64 {
    paired_batches(label, 1, 1_000, a, b)
}

/// [`paired`] with batches of at least `min_batch` iterations (for work
/// with a fixed start-up cost, such as starting threads) and `rounds`
/// rounds under `cargo bench`.
pub fn paired_batches(
    label: &str,
    min_batch: u64,
    rounds: usize,
    mut a: impl FnMut(u64) -> Duration,
    mut b: impl FnMut(u64) -> Duration,
) -> f64 {
    let per_iteration = a(8).as_nanos().max(1) / 8;
    let batch = u64::try_from(1_000_000 / per_iteration)
        .unwrap_or(1)
        .clamp(min_batch, min_batch.max(100_000));
    let rounds = if full_run() { rounds } else { 2 };
    let (mut ta, mut tb, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (x, y) = if round % 2 == 0 {
            let x = a(batch);
            (x, b(batch))
        } else {
            let y = b(batch);
            (a(batch), y)
        };
        ta.push(x.as_nanos() as f64 / batch as f64);
        tb.push(y.as_nanos() as f64 / batch as f64);
        ratios.push(x.as_secs_f64() / y.as_secs_f64());
    }
    let ratio = median(&mut ratios);
    eprintln!(
        "paired {label}: {:.0} ns / {:.0} ns, ratio {ratio:.3} (median of {rounds} rounds of {batch})",
        median(&mut ta),
        median(&mut tb),
    );
    ratio
}

/// The median (the upper one of an even count).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// `cargo bench` passes `--bench`; the single run of `cargo test` does not.
#[must_use]
pub fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}
