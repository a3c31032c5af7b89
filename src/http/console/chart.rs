//! The spend chart: one stacked bar per day, one colour per series (a model
//! or a team), drawn as SVG on the server. Heights are pixels, so floats are
//! fine here; the amounts shown are the exact decimal strings.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::html::esc;

/// One day's spend of one series, in pico-USD.
pub struct Point {
    pub day: String,
    pub series: String,
    pub pusd: i128,
}

/// Colours of the series, in order (distinct under the common colour-vision
/// deficiencies); the rest share the last one.
const COLOURS: [&str; 8] = [
    "#1f5fbf", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#7f7f7f",
];

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 70.0;
const BOTTOM: f64 = 40.0;
const TOP: f64 = 10.0;

fn usd(pusd: i128) -> String {
    crate::costs::format_usd(crate::costs::pico::from_pico(pusd))
}

/// The SVG and its legend; `None` when there is no spend to draw.
pub fn stacked_by_day(points: &[Point], what: &str) -> Option<String> {
    let mut days: BTreeMap<&str, BTreeMap<&str, i128>> = BTreeMap::new();
    let mut totals: BTreeMap<&str, i128> = BTreeMap::new();
    for p in points.iter().filter(|p| p.pusd > 0) {
        *days
            .entry(&p.day)
            .or_default()
            .entry(&p.series)
            .or_default() += p.pusd;
        *totals.entry(&p.series).or_default() += p.pusd;
    }
    if days.is_empty() {
        return None;
    }
    // Biggest series first, so the colours go to what matters most.
    let mut series: Vec<(&str, i128)> = totals.into_iter().collect();
    series.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let colour = |name: &str| {
        let i = series.iter().position(|(s, _)| *s == name).unwrap_or(0);
        COLOURS[i.min(COLOURS.len() - 1)]
    };
    let max = days
        .values()
        .map(|d| d.values().sum::<i128>())
        .max()
        .unwrap_or(1)
        .max(1);
    let plot_h = HEIGHT - BOTTOM - TOP;
    let slot = (WIDTH - LEFT) / days.len() as f64;
    let bar_w = (slot * 0.7).clamp(2.0, 60.0);
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         role=\"img\" aria-labelledby=\"chart-title\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"chart-title\">Spend per day by {w}, highest day {top} USD</title>",
        w = esc(what),
        top = usd(max),
    );
    // Axis: zero and the highest day.
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{y0}\" x2=\"{WIDTH}\" y2=\"{y0}\" stroke=\"#888\"/>\
         <text x=\"{lx}\" y=\"{y0}\" font-size=\"11\" text-anchor=\"end\">0</text>\
         <text x=\"{lx}\" y=\"{yt}\" font-size=\"11\" text-anchor=\"end\">{top}</text>",
        y0 = HEIGHT - BOTTOM,
        lx = LEFT - 6.0,
        yt = TOP + 10.0,
        top = usd(max),
    );
    let label_every = (days.len() / 12).max(1);
    for (i, (day, by_series)) in days.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
        let mut y = HEIGHT - BOTTOM;
        for (name, _) in &series {
            let Some(&v) = by_series.get(name) else {
                continue;
            };
            let h = (v as f64 / max as f64 * plot_h).max(1.0);
            y -= h;
            let _ = write!(
                svg,
                "<rect class=\"bar\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar_w:.1}\" height=\"{h:.1}\" fill=\"{c}\">\
                 <title>{d} · {n}: {a} USD</title></rect>",
                c = colour(name),
                d = esc(day),
                n = esc(name),
                a = usd(v),
            );
        }
        if i % label_every == 0 {
            let _ = write!(
                svg,
                "<text x=\"{cx:.1}\" y=\"{ty}\" font-size=\"11\" text-anchor=\"middle\">{d}</text>",
                cx = x + bar_w / 2.0,
                ty = HEIGHT - BOTTOM + 16.0,
                d = esc(day.get(5..).unwrap_or(day)),
            );
        }
    }
    svg.push_str("</svg><ul class=\"legend\">");
    for (name, total) in &series {
        let _ = write!(
            svg,
            "<li><svg class=\"swatch\" width=\"12\" height=\"12\" aria-hidden=\"true\"><rect width=\"12\" height=\"12\" fill=\"{c}\"/></svg>{n}: {t} USD</li>",
            c = colour(name),
            n = esc(name),
            t = usd(*total),
        );
    }
    svg.push_str("</ul>");
    Some(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(day: &str, series: &str, pusd: i128) -> Point {
        Point {
            day: day.into(),
            series: series.into(),
            pusd,
        }
    }

    #[test]
    fn one_bar_segment_per_day_and_series_with_spend() {
        let svg = stacked_by_day(
            &[
                p("2026-01-01", "a", 5),
                p("2026-01-01", "b", 3),
                p("2026-01-02", "a", 2),
                p("2026-01-02", "b", 0),
            ],
            "model",
        )
        .unwrap();
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 3);
        assert!(svg.contains("2026-01-01 · b"));
        // the tallest day fills the plot: 8 of 8 pico-USD
        assert!(svg.contains(&format!(
            "height=\"{:.1}\"",
            (HEIGHT - BOTTOM - TOP) * 5.0 / 8.0
        )));
    }

    #[test]
    fn no_spend_draws_nothing() {
        assert!(stacked_by_day(&[p("2026-01-01", "a", 0)], "model").is_none());
    }

    #[test]
    fn names_are_escaped() {
        let svg = stacked_by_day(&[p("d", "<script>", 1)], "team").unwrap();
        assert!(!svg.contains("<script>"));
    }
}
