//! Reports of an interop run: the terminal matrix (✓/✗ per cell, then each failure with
//! the side at fault and its transcript), JSON, JUnit (one testcase per pair) and a
//! self-contained HTML page.

use serde::Serialize;

use super::{Blame, Cell, Exchange, Finding, Matrix};

fn mark(c: &Cell) -> &'static str {
    if c.passed() {
        "✓"
    } else if c.errored() {
        "!"
    } else {
        "✗"
    }
}

/// Column headings: C1, C2, ... with a legend, so long commands do not widen the table.
fn legend(m: &Matrix) -> String {
    let mut s = String::new();
    for (i, p) in m.servers.iter().enumerate() {
        s.push_str(&format!("  S{}  server  {}\n", i + 1, p.label));
    }
    for (i, p) in m.clients.iter().enumerate() {
        s.push_str(&format!("  C{}  client  {}\n", i + 1, p.label));
    }
    s
}

fn cell_name(m: &Matrix, c: &Cell) -> String {
    format!(
        "S{} × C{} ({} server × {} client)",
        c.server + 1,
        c.client + 1,
        m.servers[c.server].label,
        m.clients[c.client].label
    )
}

fn finding_text(f: &Finding) -> String {
    format!(
        "{}: the {} broke the protocol\n      expected: {}\n        actual: {}",
        f.exchange,
        f.blame.as_str(),
        f.expected,
        f.actual
    )
}

/// The terminal report.
pub fn human(m: &Matrix) -> String {
    let mut s = format!(
        "interop {} ({} servers × {} clients)\n",
        m.suite.name,
        m.servers.len(),
        m.clients.len()
    );
    s.push_str(&legend(m));
    s.push('\n');
    s.push_str("        ");
    for i in 0..m.clients.len() {
        s.push_str(&format!("{:<5}", format!("C{}", i + 1)));
    }
    s.push('\n');
    for si in 0..m.servers.len() {
        s.push_str(&format!("  {:<6}", format!("S{}", si + 1)));
        for ci in 0..m.clients.len() {
            let cell = m.cell(si, ci);
            let blame = cell.and_then(Cell::blame).map_or(' ', |b| match b {
                Blame::Client => 'c',
                Blame::Server => 's',
                Blame::Harness => '!',
            });
            s.push_str(&format!("{}{:<4}", cell.map_or("?", mark), blame));
        }
        s.push('\n');
    }
    s.push_str(
        "\n  ✓ works   ✗s the server broke the protocol   ✗c the client did   ! not judged\n",
    );
    let failed: Vec<&Cell> = m.cells.iter().filter(|c| !c.passed()).collect();
    for c in &failed {
        s.push_str(&format!("\n✗ {}\n", cell_name(m, c)));
        for f in &c.findings {
            s.push_str(&format!("    {}\n", finding_text(f)));
        }
        for ex in c.exchanges.iter().filter(|e| !e.passed) {
            s.push_str(&format!("    transcript of {}:\n", ex.name));
            for l in &ex.transcript {
                s.push_str(&format!("      {l}\n"));
            }
        }
    }
    let passed = m.cells.iter().filter(|c| c.passed()).count();
    s.push_str(&format!("\n{passed} of {} pairs work\n", m.cells.len()));
    s
}

#[derive(Serialize)]
struct JsonCell<'a> {
    server: &'a str,
    client: &'a str,
    status: &'static str,
    blame: Option<Blame>,
    findings: &'a [Finding],
    exchanges: &'a [Exchange],
    duration_ms: u128,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    tool: serde_json::Value,
    kind: &'static str,
    suite: &'static str,
    servers: Vec<&'a str>,
    clients: Vec<&'a str>,
    verdict: &'static str,
    cells: Vec<JsonCell<'a>>,
}

fn status(c: &Cell) -> &'static str {
    if c.passed() {
        "passed"
    } else if c.errored() {
        "errored"
    } else {
        "failed"
    }
}

/// The JSON report.
pub fn json(m: &Matrix) -> String {
    let r = JsonReport {
        tool: serde_json::json!({"name": "conformance", "version": env!("CARGO_PKG_VERSION")}),
        kind: "interop",
        suite: m.suite.name,
        servers: m.servers.iter().map(|p| p.label.as_str()).collect(),
        clients: m.clients.iter().map(|p| p.label.as_str()).collect(),
        verdict: if m.all_passed() { "pass" } else { "fail" },
        cells: m
            .cells
            .iter()
            .map(|c| JsonCell {
                server: &m.servers[c.server].label,
                client: &m.clients[c.client].label,
                status: status(c),
                blame: c.blame(),
                findings: &c.findings,
                exchanges: &c.exchanges,
                duration_ms: c.duration_ms,
            })
            .collect(),
    };
    let mut s = serde_json::to_string_pretty(&r).unwrap_or_else(|_| "{}".to_owned());
    s.push('\n');
    s
}

/// The JUnit report: one testsuite, one testcase per pair.
pub fn junit(m: &Matrix) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new(format!("interop.{}", m.suite.name));
    for c in &m.cells {
        let name = format!(
            "{} × {}",
            m.servers[c.server].label, m.clients[c.client].label
        );
        let st = if c.passed() {
            TestCaseStatus::success()
        } else {
            let kind = if c.errored() {
                NonSuccessKind::Error
            } else {
                NonSuccessKind::Failure
            };
            let mut st = TestCaseStatus::non_success(kind);
            if let Some(f) = c.findings.first() {
                st.set_message(format!(
                    "{}: the {} broke the protocol: {}",
                    f.exchange,
                    f.blame.as_str(),
                    f.actual
                ));
                st.set_type(f.blame.as_str());
            }
            let mut d: Vec<String> = c.findings.iter().map(finding_text).collect();
            for ex in c.exchanges.iter().filter(|e| !e.passed) {
                d.push(format!("transcript of {}:", ex.name));
                d.extend(ex.transcript.iter().cloned());
            }
            st.set_description(d.join("\n"));
            st
        };
        let mut tc = TestCase::new(name, st);
        tc.set_classname(format!("interop.{}", m.suite.name));
        tc.set_time(std::time::Duration::from_millis(
            u64::try_from(c.duration_ms).unwrap_or(u64::MAX),
        ));
        suite.add_test_case(tc);
    }
    let mut r = Report::new("conformance interop");
    r.add_test_suite(suite);
    r.to_string().unwrap_or_default()
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(ch),
        }
    }
    o
}

/// A self-contained HTML page: the matrix, each failing cell linked to its findings and
/// transcript.
pub fn html(m: &Matrix) -> String {
    let mut h = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>interop</title><style>\
         body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}\
         td,th{border:1px solid #999;padding:.3em .6em;text-align:center}\
         th.row{text-align:left}.ok{background:#cfc}.bad{background:#fcc}.err{background:#ffc}\
         pre{background:#f4f4f4;padding:.6em;overflow-x:auto}</style></head><body>",
    );
    h.push_str(&format!(
        "<h1>interop: {}</h1><table><tr><th>server \\ client</th>",
        esc(m.suite.name)
    ));
    for p in &m.clients {
        h.push_str(&format!("<th>{}</th>", esc(&p.label)));
    }
    h.push_str("</tr>");
    for (si, sp) in m.servers.iter().enumerate() {
        h.push_str(&format!("<tr><th class=\"row\">{}</th>", esc(&sp.label)));
        for ci in 0..m.clients.len() {
            match m.cell(si, ci) {
                Some(c) if c.passed() => h.push_str("<td class=\"ok\">✓</td>"),
                Some(c) => {
                    let class = if c.errored() { "err" } else { "bad" };
                    let who = c.blame().map_or("", Blame::as_str);
                    h.push_str(&format!(
                        "<td class=\"{class}\"><a href=\"#c{si}-{ci}\">{} {who}</a></td>",
                        mark(c)
                    ));
                }
                None => h.push_str("<td>?</td>"),
            }
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
    for c in m.cells.iter().filter(|c| !c.passed()) {
        h.push_str(&format!(
            "<h2 id=\"c{}-{}\">{}</h2>",
            c.server,
            c.client,
            esc(&cell_name(m, c))
        ));
        for f in &c.findings {
            h.push_str(&format!(
                "<p><b>{}</b>: the <b>{}</b> broke the protocol<br>expected: {}<br>actual: {}</p>",
                esc(&f.exchange),
                f.blame.as_str(),
                esc(&f.expected),
                esc(&f.actual)
            ));
        }
        for ex in c.exchanges.iter().filter(|e| !e.passed) {
            h.push_str(&format!(
                "<h3>{}</h3><pre>{}</pre>",
                esc(&ex.name),
                esc(&ex.transcript.join("\n"))
            ));
        }
    }
    h.push_str("</body></html>\n");
    h
}
