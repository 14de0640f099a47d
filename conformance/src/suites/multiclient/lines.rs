//! Reading a multiclient server's lines: the pure readers that decide verdicts (unit tests in
//! `conformance/tests/engine.rs`, group `mc_lines`).
//!
//! A line is read for its information, with any case, spacing and punctuation (DESIGN.md
//! "multiclient (002)"): an event line names a client by its ID, says `connected` or
//! `disconnected`, and gives the count after a count phrase (`Number of connected clients = 2`,
//! `clients: 2`, `(2 clients)`, `total 2`); a count line (a tick) gives a count after such a
//! phrase and names no client. Banners (`ready for clients on port 12000`, `Server started`)
//! and listings of the connected clients (`Connected clients: [1, 3]`) are neither. Only
//! `exact-wording` asks for the text's exact line ([`exact`], [`wording_faults`]).

use std::fmt;

/// Connected or disconnected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `Client X connected`.
    Connected,
    /// `Client X disconnected`.
    Disconnected,
}

impl Kind {
    /// The text's word for it.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Connected => "connected",
            Kind::Disconnected => "disconnected",
        }
    }
}

/// What an event line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Connect or disconnect.
    pub kind: Kind,
    /// The client's ID as printed.
    pub id: u64,
    /// The count of connected clients it gives (None: the line gives none that can be read).
    pub count: Option<u64>,
}

/// One token of a line: a lower-cased word, a number, or one punctuation character
/// (whitespace separates tokens and is dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Num(u64),
    Punct(char),
}

fn tokens(text: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() || c == '\0' {
            chars.next();
        } else if c.is_ascii_digit() {
            let mut n: u64 = 0;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                // An absurdly long number saturates: it matches no ID or count.
                n = n.saturating_mul(10).saturating_add(u64::from(d));
                chars.next();
            }
            out.push(Tok::Num(n));
        } else if c.is_alphabetic() {
            let mut w = String::new();
            while let Some(&c) = chars.peek().filter(|c| c.is_alphabetic()) {
                w.extend(c.to_lowercase());
                chars.next();
            }
            out.push(Tok::Word(w));
        } else {
            out.push(Tok::Punct(c));
            chars.next();
        }
    }
    out
}

fn is_word(t: Option<&Tok>, words: &[&str]) -> bool {
    matches!(t, Some(Tok::Word(w)) if words.contains(&w.as_str()))
}

/// `clients`, also glued to the words before it (`Numberofconnectedclients=2`).
fn is_clients(t: Option<&Tok>) -> bool {
    matches!(t, Some(Tok::Word(w)) if w.ends_with("clients"))
}

fn is_punct(t: Option<&Tok>, set: &str) -> bool {
    matches!(t, Some(Tok::Punct(c)) if set.contains(*c))
}

/// Skips tokens while `skip` holds, at most `max` of them.
fn skip_while(toks: &[Tok], mut at: usize, max: usize, skip: impl Fn(&Tok) -> bool) -> usize {
    let stop = at + max;
    while at < stop && toks.get(at).is_some_and(&skip) {
        at += 1;
    }
    at
}

/// Words between `client` and its ID: `Client #3`, `client ID 3`, `Client no. 3`.
fn id_prefix(t: &Tok) -> bool {
    is_word(Some(t), &["id", "no", "nr", "number"]) || is_punct(Some(t), "#:([.")
}

/// Words between an ID and the event: `Client 3 has connected`, `Client (3): connected`.
fn event_filler(t: &Tok) -> bool {
    is_word(
        Some(t),
        &[
            "has",
            "is",
            "was",
            "just",
            "been",
            "now",
            "got",
            "successfully",
        ],
    ) || is_punct(Some(t), ")]:,-")
}

/// Words that may stand between a count phrase and the count (`clients connected: 2`).
const COUNT_QUALIFIERS: &[&str] = &["connected", "now", "online", "active", "currently"];

/// The number at `at` if it is the count a phrase ends with, not the first of a listing
/// (`1, 3` or `1 3`).
fn count_at(toks: &[Tok], at: usize) -> Option<u64> {
    let Some(Tok::Num(n)) = toks.get(at) else {
        return None;
    };
    let next = toks.get(at + 1);
    let listing = matches!(next, Some(Tok::Num(_)))
        || (is_punct(next, ",;") && matches!(toks.get(at + 2), Some(Tok::Num(_))));
    (!listing).then_some(*n)
}

/// The first count phrase's count in `toks`: `clients [connected] [=|:|-|is] N`,
/// `N [connected] client(s)`, `count|total [=|:] N`, `connected [=|:] N`.
fn find_count(toks: &[Tok]) -> Option<u64> {
    let seps = |t: &Tok| is_punct(Some(t), "=:-") || is_word(Some(t), &["is", "are"]);
    (0..toks.len()).find_map(|k| {
        let t = toks.get(k);
        if is_clients(t) {
            let m = skip_while(toks, k + 1, 2, |t| is_word(Some(t), COUNT_QUALIFIERS));
            return count_at(toks, skip_while(toks, m, 2, seps));
        }
        if is_word(t, &["count", "total"]) {
            return count_at(toks, skip_while(toks, k + 1, 2, seps));
        }
        if is_word(t, &["connected"]) && is_punct(toks.get(k + 1), "=:") {
            return count_at(toks, k + 2);
        }
        if let Some(Tok::Num(n)) = t {
            let m = skip_while(toks, k + 1, 1, |t| is_word(Some(t), COUNT_QUALIFIERS));
            if (is_clients(toks.get(m)) || is_word(toks.get(m), &["client"]))
                && !is_punct(toks.get(k + 1), ",")
            {
                return Some(*n);
            }
        }
        None
    })
}

/// Reads an event line: `client`, its ID, `connected` or `disconnected`, then the count.
/// Anything may come before (a timestamp) or after (a listing of the clients).
///
/// ```
/// use conformance::suites::multiclient::lines::{Event, Kind, parse_event};
/// assert_eq!(
///     parse_event("client 3 connected. number of connected clients 2"),
///     Some(Event { kind: Kind::Connected, id: 3, count: Some(2) })
/// );
/// assert_eq!(parse_event("Number of connected clients = 2"), None);
/// ```
pub fn parse_event(text: &str) -> Option<Event> {
    let toks = tokens(text);
    (0..toks.len()).find_map(|i| {
        if !is_word(toks.get(i), &["client"]) {
            return None;
        }
        let j = skip_while(&toks, i + 1, 3, id_prefix);
        let Some(Tok::Num(id)) = toks.get(j) else {
            return None;
        };
        let k = skip_while(&toks, j + 1, 4, event_filler);
        let kind = match toks.get(k) {
            Some(Tok::Word(w)) if w == "connected" => Kind::Connected,
            Some(Tok::Word(w)) if w == "disconnected" => Kind::Disconnected,
            _ => return None,
        };
        Some(Event {
            kind,
            id: *id,
            count: find_count(&toks[k + 1..]),
        })
    })
}

/// Words of a start-up banner or a notice, never of a count line
/// (`ready for clients on port 12000`, `waiting for clients (max 10 clients)`).
const BANNER_WORDS: &[&str] = &[
    "port",
    "listening",
    "listen",
    "ready",
    "started",
    "starting",
    "waiting",
    "max",
    "maximum",
    "limit",
    "bind",
    "bound",
    "accepting",
    "welcome",
    "pid",
];

/// Reads a count line (the periodic tick): a count phrase and its count, no event, no
/// client named by its ID, no banner word. Returns the count.
///
/// ```
/// use conformance::suites::multiclient::lines::parse_tick;
/// assert_eq!(parse_tick("Number of connected clients = 2"), Some(2));
/// assert_eq!(parse_tick("ready for clients on port 12000"), None);
/// ```
pub fn parse_tick(text: &str) -> Option<u64> {
    if parse_event(text).is_some() {
        return None;
    }
    let toks = tokens(text);
    let names_a_client = (0..toks.len()).any(|i| {
        is_word(toks.get(i), &["client"])
            && matches!(
                toks.get(skip_while(&toks, i + 1, 3, id_prefix)),
                Some(Tok::Num(_))
            )
    });
    let banner = toks.iter().any(|t| is_word(Some(t), BANNER_WORDS));
    if names_a_client || banner {
        return None;
    }
    find_count(&toks)
}

/// The text's line, exactly.
pub fn exact(kind: Kind, id: u64, count: u64) -> String {
    format!(
        "Client {id} {}. Number of connected clients = {count}",
        kind.word()
    )
}

/// How a readable event line differs from the text's exact line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Letters in another case (`client 1 connected. number of ...`).
    Case,
    /// No `=` before the count.
    MissingEquals,
    /// Other spacing (`clients=1`, two spaces).
    Spacing,
    /// Other words or punctuation, or text before or after the line.
    Wording,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fault::Case => "the text writes `Client` and `Number` with capitals",
            Fault::MissingEquals => "the text writes ` = ` between `clients` and the count",
            Fault::Spacing => "the text has one space between words and around `=`",
            Fault::Wording => "the text's words and punctuation, and nothing else on the line",
        })
    }
}

/// What makes `text` (an event line) differ from the text's line for `e`: empty when it is
/// exact (trailing whitespace aside). An event without a readable count differs in wording.
pub fn wording_faults(text: &str, e: &Event) -> Vec<Fault> {
    let text = text.trim_end_matches(|c: char| c.is_whitespace() || c == '\0');
    let Some(count) = e.count else {
        return vec![Fault::Wording];
    };
    let want = exact(e.kind, e.id, count);
    if text == want {
        return Vec::new();
    }
    let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let mut faults = Vec::new();
    let (mut have, mut want_sq) = (squeeze(text), squeeze(&want));
    let mut want_spaced = want.clone();
    if !text.contains('=') {
        faults.push(Fault::MissingEquals);
        want_sq = want_sq.replacen('=', "", 1);
        want_spaced = want_spaced.replacen(" = ", " ", 1);
    }
    if have != want_sq && have.to_lowercase() == want_sq.to_lowercase() {
        faults.push(Fault::Case);
        have = have.to_lowercase();
        want_sq = want_sq.to_lowercase();
    }
    if have != want_sq {
        return vec![Fault::Wording];
    }
    if text.to_lowercase() != want_spaced.to_lowercase() {
        faults.push(Fault::Spacing);
    }
    faults
}
