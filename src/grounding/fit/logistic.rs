//! Weighted L2 logistic regression by Newton's method. Few features (at most
//! [`NC`]), so the Hessian is solved directly.

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
