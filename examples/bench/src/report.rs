//! The measurement as a person reads it, or as one JSON object for scripts.

use serde_json::{Value, json};

use crate::generator::Outcome;

/// What was asked, to print beside what was measured.
pub struct Run<'a> {
    pub uri: &'a str,
    pub method: &'a str,
    pub confirmable: bool,
    pub in_flight: usize,
    pub sockets: usize,
}

/// A response code as RFC 7252 writes it: class.detail, `2.05`.
fn code_name(code: u8) -> String {
    format!("{}.{:02}", code >> 5, code & 0x1F)
}

fn micros(nanos: u64) -> f64 {
    nanos as f64 / 1000.0
}

pub fn json(run: &Run, outcome: &Outcome) -> Value {
    let seconds = outcome.elapsed.as_secs_f64();
    let latency = &outcome.latency;
    let mut codes = serde_json::Map::new();
    for (code, &count) in outcome.codes.iter().enumerate() {
        if count > 0 {
            codes.insert(code_name(code as u8), json!(count));
        }
    }
    if outcome.resets > 0 {
        codes.insert("RST".to_owned(), json!(outcome.resets));
    }
    let per_request = |total: f64| {
        if outcome.responses > 0 {
            total / outcome.responses as f64
        } else {
            0.0
        }
    };
    json!({
        "uri": run.uri,
        "method": run.method,
        "type": if run.confirmable { "CON" } else { "NON" },
        "in_flight": run.in_flight,
        "sockets": run.sockets,
        "seconds": seconds,
        "responses": outcome.responses,
        "rate": if seconds > 0.0 { outcome.responses as f64 / seconds } else { 0.0 },
        "latency_us": {
            "p50": micros(latency.value_at_quantile(0.50)),
            "p90": micros(latency.value_at_quantile(0.90)),
            "p99": micros(latency.value_at_quantile(0.99)),
            "max": micros(latency.max()),
            "mean": latency.mean() / 1000.0,
        },
        "timeouts": outcome.timeouts,
        "unmatched": outcome.unmatched,
        "errors": outcome.errors,
        "codes": codes,
        "generator_cpu_us_per_request": per_request(outcome.cpu.as_secs_f64() * 1e6),
        "server_cpu_us_per_request": outcome.server_cpu.map(|cpu| per_request(cpu.as_secs_f64() * 1e6)),
        "server_cpu_share": outcome.server_cpu.map(|cpu| if seconds > 0.0 { cpu.as_secs_f64() / seconds } else { 0.0 }),
        "generator_cpu_share": if seconds > 0.0 { outcome.cpu.as_secs_f64() / seconds } else { 0.0 },
    })
}

pub fn human(report: &Value) -> String {
    let l = &report["latency_us"];
    let codes = report["codes"]
        .as_object()
        .map(|codes| {
            codes
                .iter()
                .map(|(code, count)| format!("{code}: {count}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    format!(
        "{method} {uri} ({kind}), {in_flight} in flight over {sockets} sockets, {seconds:.2} s\n\
         requests/s  {rate:.0}\n\
         latency µs  p50 {p50:.1}  p90 {p90:.1}  p99 {p99:.1}  max {max:.1}  (mean {mean:.1})\n\
         responses   {responses} ({codes})\n\
         timeouts    {timeouts}   unmatched {unmatched}   errors {errors}\n\
         generator   {cpu:.2} µs CPU/request, {share:.0}% of a core\n{server}",
        method = report["method"].as_str().unwrap_or_default(),
        uri = report["uri"].as_str().unwrap_or_default(),
        kind = report["type"].as_str().unwrap_or_default(),
        in_flight = report["in_flight"],
        sockets = report["sockets"],
        seconds = report["seconds"].as_f64().unwrap_or_default(),
        rate = report["rate"].as_f64().unwrap_or_default(),
        p50 = l["p50"].as_f64().unwrap_or_default(),
        p90 = l["p90"].as_f64().unwrap_or_default(),
        p99 = l["p99"].as_f64().unwrap_or_default(),
        max = l["max"].as_f64().unwrap_or_default(),
        mean = l["mean"].as_f64().unwrap_or_default(),
        responses = report["responses"],
        timeouts = report["timeouts"],
        unmatched = report["unmatched"],
        errors = report["errors"],
        cpu = report["generator_cpu_us_per_request"]
            .as_f64()
            .unwrap_or_default(),
        share = report["generator_cpu_share"].as_f64().unwrap_or_default() * 100.0,
        server = match report["server_cpu_us_per_request"].as_f64() {
            Some(cpu) => format!(
                "server      {cpu:.2} µs CPU/request, {:.0}% of a core\n",
                report["server_cpu_share"].as_f64().unwrap_or_default() * 100.0
            ),
            None => String::new(),
        },
    )
}
