//! Bar charts drawn as SVG by the app itself: one bar per day, series stacked.

use yew::prelude::*;

use crate::format::thousands;

#[derive(Clone, PartialEq)]
pub struct Series {
    pub label: String,
    /// A CSS class that gives the bars their colour (`series-a`, `series-b`, …).
    pub class: &'static str,
    pub values: Vec<i64>,
}

#[derive(Properties, PartialEq)]
pub struct BarChartProps {
    pub title: AttrValue,
    pub days: Vec<String>,
    pub series: Vec<Series>,
}

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 20.0;

#[component]
pub fn BarChart(props: &BarChartProps) -> Html {
    let n = props.days.len().max(1);
    let totals: Vec<i64> =
        (0..n).map(|i| props.series.iter().map(|s| s.values.get(i).copied().unwrap_or(0)).sum()).collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1) as f64;
    let plot_h = HEIGHT - BOTTOM;
    let slot = (WIDTH - LEFT) / n as f64;
    let bar_w = (slot * 0.8).max(1.0);
    let bars = (0..props.days.len()).map(|i| {
        let mut top = plot_h;
        let x = LEFT + i as f64 * slot + (slot - bar_w) / 2.0;
        let parts = props.series.iter().map(|s| {
            let value = s.values.get(i).copied().unwrap_or(0);
            let h = value as f64 / max * (plot_h - 8.0);
            top -= h;
            html! {
                <rect class={s.class} x={format!("{x:.1}")} y={format!("{top:.1}")} width={format!("{bar_w:.1}")} height={format!("{h:.1}")}>
                    <title>{ format!("{} · {}: {}", props.days[i], s.label, thousands(value)) }</title>
                </rect>
            }
        });
        html! { <g>{ for parts }</g> }
    });
    let first = props.days.first().cloned().unwrap_or_default();
    let last = props.days.last().cloned().unwrap_or_default();
    let summary = props
        .series
        .iter()
        .map(|s| format!("{} {}", s.label, thousands(s.values.iter().sum())))
        .collect::<Vec<_>>()
        .join(", ");
    html! {
        <figure class="chart">
            <figcaption>{ props.title.clone() }</figcaption>
            <svg viewBox={format!("0 0 {WIDTH} {HEIGHT}")} role="img" aria-label={format!("{}: {first} – {last}; {summary}", props.title)}>
                <line class="axis" x1={LEFT.to_string()} y1={plot_h.to_string()} x2={WIDTH.to_string()} y2={plot_h.to_string()} />
                <text class="tick" x={(LEFT - 6.0).to_string()} y="12" text-anchor="end">{ thousands(max as i64) }</text>
                <text class="tick" x={(LEFT - 6.0).to_string()} y={plot_h.to_string()} text-anchor="end">{ "0" }</text>
                { for bars }
                <text class="tick" x={LEFT.to_string()} y={HEIGHT.to_string()}>{ first }</text>
                <text class="tick" x={WIDTH.to_string()} y={HEIGHT.to_string()} text-anchor="end">{ last }</text>
            </svg>
            if props.series.len() > 1 {
                <ul class="legend">
                    { for props.series.iter().map(|s| html! { <li><span class={classes!("swatch", s.class)}></span>{ s.label.clone() }</li> }) }
                </ul>
            }
        </figure>
    }
}
