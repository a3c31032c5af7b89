//! Grounding scorer speed: a ~500-token answer against ~4,000 tokens of context.
//!
//! Besides criterion's estimate, prints p50 / p99 / max of 5,000 timed calls
//! (the acceptance target is p99 <= 0.5 ms), both with a warm per-thread stem
//! cache (steady state in the gateway) and with new vocabulary on every call.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use promptgate::grounding::Scorer;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

const SYL: &[&str] = &[
    "ka", "lo", "mer", "tin", "sa", "vo", "ren", "da", "pli", "gor", "nu", "ste", "ban", "qui",
    "el", "or",
];
const FUNC: &[&str] = &[
    "the", "of", "and", "in", "to", "a", "was", "is", "for", "on", "with", "by", "that", "from",
];

fn word(r: &mut Rng, vocab: u64, salt: u64) -> String {
    // Zipf-ish: small ids are frequent
    let id = (r.next() % vocab).min(r.next() % vocab) + salt;
    let mut w = String::new();
    let mut x = id;
    for _ in 0..(2 + id % 3) {
        w.push_str(SYL[(x % SYL.len() as u64) as usize]);
        x /= SYL.len() as u64;
    }
    if id % 7 == 0 {
        let mut c = w.chars();
        if let Some(f) = c.next() {
            w = f.to_uppercase().collect::<String>() + c.as_str();
        }
    }
    w
}

fn sentence(r: &mut Rng, salt: u64) -> String {
    let n = 12 + r.next() % 14;
    let mut s = Vec::new();
    for i in 0..n {
        match r.next() % 10 {
            0..=3 => s.push(FUNC[(r.next() % FUNC.len() as u64) as usize].to_string()),
            4 if i > 2 => s.push(format!("{}", r.next() % 5000)),
            _ => s.push(word(r, 3000, salt)),
        }
    }
    let mut out = s.join(" ");
    if let Some(f) = out.get(..1) {
        out = f.to_uppercase() + out.get(1..).unwrap_or("");
    }
    out + "."
}

/// (context passages, answer), about 4,000 and 500 whitespace tokens.
fn workload(seed: u64, salt: u64) -> (Vec<String>, String) {
    let mut r = Rng(seed);
    let mut sents = Vec::new();
    let mut tokens = 0;
    while tokens < 4000 {
        let s = sentence(&mut r, salt);
        tokens += s.split_whitespace().count();
        sents.push(s);
    }
    let ctx: Vec<String> = sents
        .chunks(sents.len().div_ceil(8))
        .map(|c| c.join(" "))
        .collect();
    let mut answer = Vec::new();
    let mut at = 0;
    while at < 500 {
        // half copied sentences, half new ones
        let s = if r.next() % 2 == 0 {
            sents[(r.next() % sents.len() as u64) as usize].clone()
        } else {
            sentence(&mut r, salt)
        };
        at += s.split_whitespace().count();
        answer.push(s);
    }
    (ctx, answer.join(" "))
}

fn percentiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let p = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (p(0.5), p(0.99), v[v.len() - 1])
}

fn bench(c: &mut Criterion) {
    let scorer = Scorer::new();
    let (ctx, answer) = workload(42, 0);
    let ctx_tokens: usize = ctx.iter().map(|p| p.split_whitespace().count()).sum();
    println!(
        "workload: context {} tokens in {} passages, answer {} tokens",
        ctx_tokens,
        ctx.len(),
        answer.split_whitespace().count()
    );
    let r = scorer.score(&ctx, &answer);
    println!(
        "claims {}, score {:.4}, flagged {}",
        r.claims.len(),
        r.score,
        r.flagged
    );

    // warm: the same request repeatedly (stem cache warm)
    let mut times = Vec::with_capacity(5000);
    for _ in 0..5000 {
        let t = Instant::now();
        black_box(scorer.score(black_box(&ctx), black_box(&answer)));
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (p50, p99, max) = percentiles(times);
    println!("warm  : p50 {p50:.3} ms  p99 {p99:.3} ms  max {max:.3} ms (5000 calls)");

    // varied: 200 different workloads, each with partly new vocabulary
    let loads: Vec<(Vec<String>, String)> = (0..200).map(|i| workload(1000 + i, i * 37)).collect();
    let mut times = Vec::with_capacity(loads.len());
    for (c, a) in &loads {
        let t = Instant::now();
        black_box(scorer.score(black_box(c), black_box(a)));
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (p50, p99, max) = percentiles(times);
    println!("varied: p50 {p50:.3} ms  p99 {p99:.3} ms  max {max:.3} ms (200 different requests, first sight)");

    c.bench_function(
        "grounding score 500-token answer vs 4000-token context",
        |b| b.iter(|| scorer.score(black_box(&ctx), black_box(&answer))),
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
