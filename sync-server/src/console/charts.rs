//! The dashboard's charts, drawn on the server as SVG with plotters: nothing to load in the
//! browser, the same picture in every browser and in a screenshot.

use plotters::prelude::*;

/// A horizontal bar chart of rates (0–100 %), one bar per label; a figure with nothing to count
/// has no bar. Returns the SVG document, or an empty string if drawing failed.
pub(super) fn rates(bars: &[(&str, Option<f64>)]) -> String {
    let mut svg = String::new();
    let height = 40 + 34 * bars.len() as u32;
    let drawn = draw_rates(&mut svg, bars, (720, height));
    if let Err(e) = drawn {
        tracing::error!(error = %e, "dashboard chart failed");
        return String::new();
    }
    svg
}

fn draw_rates(
    svg: &mut String,
    bars: &[(&str, Option<f64>)],
    size: (u32, u32),
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(svg, size).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .margin(12)
        .x_label_area_size(24)
        .y_label_area_size(150)
        .build_cartesian_2d(0f64..100f64, (0..bars.len()).into_segmented())?;
    // Segment 0 is drawn at the bottom: the first figure goes in the top segment.
    let n = bars.len();
    let label = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) if *i < n => bars[n - 1 - *i].0.to_string(),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_labels(6)
        .x_label_formatter(&|x| format!("{x:.0}%"))
        .y_label_formatter(&label)
        .label_style(("sans-serif", 15))
        .light_line_style(WHITE)
        .draw()?;
    let colour = RGBColor(0x1f, 0x6f, 0xb5);
    chart.draw_series(bars.iter().enumerate().filter_map(|(i, (_, rate))| {
        rate.map(|r| {
            let top = SegmentValue::Exact(n - 1 - i);
            let bottom = SegmentValue::Exact(n - i);
            let mut bar = Rectangle::new([(0.0, top), (r * 100.0, bottom)], colour.filled());
            bar.set_margin(6, 6, 0, 0);
            bar
        })
    }))?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_is_drawn_for_each_rate_and_none_for_a_figure_with_nothing_to_count() {
        let svg = rates(&[("掌上执法率", Some(0.5)), ("后续处置率", None), ("跨部门联合监管率", Some(1.0))]);
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("掌上执法率") && svg.contains("后续处置率"));
        assert_eq!(svg.matches("fill=\"#1F6FB5\"").count(), 2, "{svg}");
    }
}
