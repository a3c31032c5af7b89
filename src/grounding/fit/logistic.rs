//! Weighted L2 logistic regression by Newton's method, and the balanced-accuracy
//! threshold. Few features (at most [`NC`]), so the Hessian is solved directly.

use super::row::Row;
use crate::grounding::features::NC;
use crate::grounding::scorer::sigmoid;

const NEWTON_STEPS: usize = 50;

/// `-log P(y | z)` for `P(hallucinated) = σ(z)`, stable for large `|z|`.
pub(crate) fn log_loss(z: f64, hallucinated: bool) -> f64 {
    // log(1 + e^t) without overflow
    let softplus = |t: f64| t.max(0.0) + (-t.abs()).exp().ln_1p();
    if hallucinated {
        softplus(-z)
    } else {
        softplus(z)
    }
}

/// Fits `P(hallucinated) = σ(b + Σ_k w_k x[active[k]])` on the weighted rows;
/// returns `(w, b)` in the features' own units. The L2 penalty applies to the
/// standardised weights, not to the intercept.
pub fn fit_weights(rows: &[Row], active: &[usize], l2: f64) -> (Vec<f64>, f64) {
    let d = active.len();
    let wsum: f64 = rows.iter().map(|r| r.weight).sum();
    if rows.is_empty() || wsum <= 0.0 {
        return (vec![0.0; d], 0.0);
    }
    // standardisation
    let mut mean = vec![0.0; d];
    let mut sd = vec![1.0; d];
    for (k, &j) in active.iter().enumerate() {
        mean[k] = rows.iter().map(|r| r.weight * r.x[j]).sum::<f64>() / wsum;
        let var = rows
            .iter()
            .map(|r| r.weight * (r.x[j] - mean[k]).powi(2))
            .sum::<f64>()
            / wsum;
        sd[k] = if var > 1e-12 { var.sqrt() } else { 1.0 };
    }
    let xs: Vec<[f64; NC]> = rows
        .iter()
        .map(|r| {
            let mut v = [0.0; NC];
            for (k, &j) in active.iter().enumerate() {
                v[k] = (r.x[j] - mean[k]) / sd[k];
            }
            v
        })
        .collect();
    // parameters: theta[0] = intercept, theta[1..=d] = standardised weights
    let mut theta = vec![0.0; d + 1];
    let objective = |t: &[f64]| -> f64 {
        let mut l = 0.0;
        for (r, x) in rows.iter().zip(&xs) {
            l += r.weight * log_loss(z_of(t, x), r.hallucinated);
        }
        l / wsum + 0.5 * l2 * t[1..].iter().map(|u| u * u).sum::<f64>()
    };
    let mut cur = objective(&theta);
    for _ in 0..NEWTON_STEPS {
        let mut g = vec![0.0; d + 1];
        let mut h = vec![vec![0.0; d + 1]; d + 1];
        for (r, x) in rows.iter().zip(&xs) {
            let p = sigmoid(z_of(&theta, x));
            let y = if r.hallucinated { 1.0 } else { 0.0 };
            let c = r.weight / wsum;
            let q = c * p * (1.0 - p);
            for a in 0..=d {
                let xa = if a == 0 { 1.0 } else { x[a - 1] };
                g[a] += c * (p - y) * xa;
                for b in 0..=d {
                    let xb = if b == 0 { 1.0 } else { x[b - 1] };
                    h[a][b] += q * xa * xb;
                }
            }
        }
        for a in 1..=d {
            g[a] += l2 * theta[a];
            h[a][a] += l2;
        }
        let Some(step) = solve(h, g) else { break };
        // damped Newton: halve until the objective does not rise
        let mut t = 1.0;
        let mut moved = false;
        for _ in 0..30 {
            let next: Vec<f64> = theta.iter().zip(&step).map(|(a, s)| a - t * s).collect();
            let l = objective(&next);
            if l <= cur {
                let delta = cur - l;
                theta = next;
                cur = l;
                moved = delta > 1e-12;
                break;
            }
            t *= 0.5;
        }
        if !moved {
            break;
        }
    }
    let w: Vec<f64> = (0..d).map(|k| theta[k + 1] / sd[k]).collect();
    let b = theta[0] - (0..d).map(|k| theta[k + 1] * mean[k] / sd[k]).sum::<f64>();
    (w, b)
}

fn z_of(theta: &[f64], x: &[f64; NC]) -> f64 {
    theta[0] + theta[1..].iter().zip(x).map(|(t, v)| t * v).sum::<f64>()
}

/// Solves `h · s = g` by Gaussian elimination with partial pivoting.
fn solve(mut h: Vec<Vec<f64>>, mut g: Vec<f64>) -> Option<Vec<f64>> {
    let n = g.len();
    for col in 0..n {
        let piv = (col..n).max_by(|&a, &b| h[a][col].abs().total_cmp(&h[b][col].abs()))?;
        if h[piv][col].abs() < 1e-14 {
            return None;
        }
        h.swap(col, piv);
        g.swap(col, piv);
        let (upper, lower) = h.split_at_mut(col + 1);
        let pivot_row = &upper[col];
        for (row, hr) in lower.iter_mut().enumerate() {
            let f = hr[col] / pivot_row[col];
            for (x, p) in hr[col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= f * p;
            }
            g[col + 1 + row] -= f * g[col];
        }
    }
    let mut s = vec![0.0; n];
    for row in (0..n).rev() {
        let tail: f64 = (row + 1..n).map(|k| h[row][k] * s[k]).sum();
        s[row] = (g[row] - tail) / h[row][row];
    }
    Some(s)
}

/// Threshold on the score (`flagged = score < t`) maximising the balanced
/// accuracy of the data set it is worst on (with one data set: its balanced
/// accuracy), placed midway between the highest flagged score and the next one.
/// Taking the worst data set keeps an easy set with a wide plateau of good cuts
/// from choosing the cut for a hard one.
pub fn best_threshold(scores: &[f64], rows: &[Row]) -> f64 {
    let mut sets: Vec<u8> = rows.iter().map(|r| r.dataset).collect();
    sets.sort_unstable();
    sets.dedup();
    // per data set: (positives, negatives) weight
    let totals: Vec<(f64, f64)> = sets
        .iter()
        .map(|d| {
            rows.iter()
                .filter(|r| r.dataset == *d)
                .fold((0.0, 0.0), |t, r| {
                    if r.hallucinated {
                        (t.0 + r.weight, t.1)
                    } else {
                        (t.0, t.1 + r.weight)
                    }
                })
        })
        .collect();
    if totals.iter().any(|t| t.0 <= 0.0 || t.1 <= 0.0) {
        return 0.5;
    }
    let mut v: Vec<(f64, &Row)> = scores.iter().copied().zip(rows).collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    // flagged weight per data set so far: (true positives, false positives)
    let mut flagged = vec![(0.0f64, 0.0f64); sets.len()];
    let mut best = (-1.0f64, 0.5f64);
    let mut k = 0;
    while k < v.len() {
        let s = v[k].0;
        while k < v.len() && v[k].0 == s {
            let r = v[k].1;
            let d = sets.iter().position(|x| *x == r.dataset).unwrap_or(0);
            if r.hallucinated {
                flagged[d].0 += r.weight;
            } else {
                flagged[d].1 += r.weight;
            }
            k += 1;
        }
        let next = v.get(k).map_or(1.0, |x| x.0);
        let worst = flagged
            .iter()
            .zip(&totals)
            .map(|(f, t)| 0.5 * (f.0 / t.0 + (t.1 - f.1) / t.1))
            .fold(f64::INFINITY, f64::min);
        if worst > best.0 + 1e-12 {
            best = (worst, 0.5 * (s + next));
        }
    }
    best.1.clamp(1e-6, 1.0 - 1e-6)
}
