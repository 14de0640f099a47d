//! Codec throughput against plain hand-written slice parsers of the same formats (the
//! yardsticks, `hand::*` below, doing the same validation). Run late and short:
//! `cargo bench -p codec -- --measurement-time 3 --warm-up-time 1`.
//!
//! Times are the benchmark thread's CPU time ([`ThreadCpu`]), not wall time: on a machine
//! shared with compilers, wall time also counts the slices the thread spent descheduled, which
//! made one run's codec/hand ratios swing from 0.9 to 1.4 for code that had not changed. The
//! CPU time counts only the work, so the ratios are comparable between runs.
//!
//! Groups: `frames/<size>` (a ~4 MiB stream of 64 B, 1 KiB or 64 KiB frames, with
//! `Frame::decode` and with `FrameBuffer` fed 64 KiB reads), `requests` (1M small requests),
//! `response_255` (a 255-item response decoded and iterated), `hello` (HELLO messages).

use codec::framed::{Frame, FrameBuffer};
use codec::hello::Hello;
use codec::messages::{Item, Request, Response};
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use std::hint::black_box;
use std::time::Duration;

/// The calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), shown like wall time.
struct ThreadCpu(WallTime);

fn thread_cpu_now() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

impl Measurement for ThreadCpu {
    type Intermediate = Duration;
    type Value = Duration;
    fn start(&self) -> Duration {
        thread_cpu_now()
    }
    fn end(&self, started: Duration) -> Duration {
        thread_cpu_now().saturating_sub(started)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_secs_f64() * 1e9
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.0.formatter()
    }
}

type C = Criterion<ThreadCpu>;

/// The yardsticks: straightforward slice code, no nom, same checks as the codec.
mod hand {
    /// One frame: (payload, rest), or None when cut off or over `max`.
    #[inline]
    pub fn frame(input: &[u8], max: u32) -> Option<(&[u8], &[u8])> {
        let (len, body) = input.split_first_chunk::<4>()?;
        let len = u32::from_be_bytes(*len);
        if len > max {
            return None;
        }
        let len = usize::try_from(len).ok()?;
        if body.len() < len {
            return None;
        }
        Some(body.split_at(len))
    }

    /// A reassembly buffer written the obvious way: Vec + read cursor.
    #[derive(Default)]
    pub struct Reassembly {
        buf: Vec<u8>,
        start: usize,
    }

    impl Reassembly {
        pub fn push(&mut self, bytes: &[u8]) {
            if self.start == self.buf.len() {
                self.buf.clear();
                self.start = 0;
            } else if self.start >= 64 * 1024 && self.start >= self.buf.len() - self.start {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            self.buf.extend_from_slice(bytes);
        }
        pub fn next(&mut self, max: u32) -> Option<&[u8]> {
            let (payload, rest) = frame(&self.buf[self.start..], max)?;
            self.start = self.buf.len() - rest.len();
            Some(payload)
        }
    }

    /// kind, user, receiver, message, rest.
    pub type Parsed<'a> = (u8, &'a [u8], &'a [u8], &'a [u8], &'a [u8]);

    /// A request, validated like the codec.
    #[inline]
    pub fn request(input: &[u8]) -> Option<Parsed<'_>> {
        let (h, body) = input.split_first_chunk::<7>()?;
        if u16::from_be_bytes([h[0], h[1]]) != 0xAE73 {
            return None;
        }
        let (id, name, recv, msg) = (
            h[2],
            usize::from(h[3]),
            usize::from(h[4]),
            usize::from(u16::from_be_bytes([h[5], h[6]])),
        );
        match id {
            1 if name >= 1 && recv == 0 && msg == 0 => {}
            2 if name >= 1 && recv >= 1 && msg >= 1 => {}
            _ => return None,
        }
        let total = name + recv + msg;
        if body.len() < total {
            return None;
        }
        let (user, rest) = body.split_at(name);
        let (receiver, rest) = rest.split_at(recv);
        let (message, rest) = rest.split_at(msg);
        Some((id, user, receiver, message, rest))
    }

    /// A response validated whole, then its items iterated (as the codec does).
    pub fn response(input: &[u8]) -> Option<(u8, bool, &[u8])> {
        let (h, body) = input.split_first_chunk::<5>()?;
        if u16::from_be_bytes([h[0], h[1]]) != 0xAE73 || h[2] != 3 || h[4] > 1 {
            return None;
        }
        let mut rest = body;
        for _ in 0..h[3] {
            let (ih, b) = rest.split_first_chunk::<3>()?;
            let (s, t) = (
                usize::from(ih[0]),
                usize::from(u16::from_be_bytes([ih[1], ih[2]])),
            );
            if s == 0 || t == 0 || b.len() < s + t {
                return None;
            }
            rest = &b[s + t..];
        }
        Some((h[3], h[4] == 1, &body[..body.len() - rest.len()]))
    }

    pub fn items(mut items: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
        std::iter::from_fn(move || {
            let (ih, b) = items.split_first_chunk::<3>()?;
            let (s, t) = (
                usize::from(ih[0]),
                usize::from(u16::from_be_bytes([ih[1], ih[2]])),
            );
            let (sender, b) = b.split_at(s);
            let (text, b) = b.split_at(t);
            items = b;
            Some((sender, text))
        })
    }

    /// `HELLO <i64>` with an optional terminator, the whole buffer (like decode_exact).
    #[inline]
    pub fn hello_exact(input: &[u8]) -> Option<i64> {
        let rest = input.strip_prefix(b"HELLO ")?;
        let (neg, rest) = match rest.strip_prefix(b"-") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let mut v: i64 = 0;
        for &b in &rest[..digits] {
            let d = i64::from(b - b'0');
            v = v.checked_mul(10)?;
            v = if neg {
                v.checked_sub(d)?
            } else {
                v.checked_add(d)?
            };
        }
        match &rest[digits..] {
            [] | [b'\n'] | [b'\r', b'\n'] | [0] | [b'\n', 0] => Some(v),
            pad if pad.len() <= 65535 && pad.iter().all(|&b| b == 0) => Some(v),
            _ => None,
        }
    }
}

fn config() -> C {
    Criterion::default()
        .with_measurement(ThreadCpu(WallTime))
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

/// One loop, as the codec does it and as the yardstick does it, on the same input.
type Run = Box<dyn FnMut() -> usize>;

/// A codec loop and its yardstick, under their criterion names.
struct Pair {
    group: &'static str,
    /// The benchmark's parameter (frame size), if any.
    param: Option<usize>,
    throughput: Throughput,
    codec: (&'static str, Run),
    hand: (&'static str, Run),
}

impl Pair {
    fn name(&self) -> String {
        match self.param {
            Some(p) => format!("{}/{p}", self.group),
            None => self.group.to_owned(),
        }
    }
}

fn frame_pairs() -> Vec<Pair> {
    const STREAM: usize = 4 << 20;
    const READ: usize = 64 * 1024;
    const MAX: u32 = 1 << 20;
    let mut pairs = Vec::new();
    for size in [64usize, 1024, 65536] {
        let payload: Vec<u8> = (0..=255u8).cycle().take(size).collect();
        let mut stream = Vec::new();
        while stream.len() + size + 4 <= STREAM {
            Frame { payload: &payload }.encode(&mut stream);
        }
        let want = stream.len() / (size + 4) * size;
        let stream: &'static [u8] = stream.leak();
        let throughput = Throughput::Bytes(stream.len() as u64);
        pairs.push(Pair {
            group: "frames",
            param: Some(size),
            throughput: throughput.clone(),
            codec: (
                "codec_Frame_decode",
                Box::new(move || {
                    let mut input = black_box(stream);
                    let mut total = 0usize;
                    while let Ok((rest, f)) = Frame::decode(input, MAX) {
                        total += f.payload.len();
                        input = rest;
                    }
                    assert_eq!(total, want);
                    total
                }),
            ),
            hand: (
                "hand_slice",
                Box::new(move || {
                    let mut input = black_box(stream);
                    let mut total = 0usize;
                    while let Some((p, rest)) = hand::frame(input, MAX) {
                        total += p.len();
                        input = rest;
                    }
                    assert_eq!(total, want);
                    total
                }),
            ),
        });
        let mut fb = FrameBuffer::new(MAX);
        let mut rb = hand::Reassembly::default();
        pairs.push(Pair {
            group: "frames",
            param: Some(size),
            throughput,
            codec: (
                "codec_FrameBuffer",
                Box::new(move || {
                    let mut total = 0usize;
                    for read in black_box(stream).chunks(READ) {
                        fb.push(read);
                        while let Ok(Some(p)) = fb.next_frame() {
                            total += p.len();
                        }
                    }
                    assert_eq!(total, want);
                    total
                }),
            ),
            hand: (
                "hand_reassembly",
                Box::new(move || {
                    let mut total = 0usize;
                    for read in black_box(stream).chunks(READ) {
                        rb.push(read);
                        while let Some(p) = rb.next(MAX) {
                            total += p.len();
                        }
                    }
                    assert_eq!(total, want);
                    total
                }),
            ),
        });
    }
    pairs
}

fn request_pair() -> Pair {
    const N: usize = 1_000_000;
    let mut stream = Vec::new();
    for i in 0..N {
        let r = if i % 2 == 0 {
            Request::read(b"alice").expect("valid")
        } else {
            Request::create(b"alice", b"bob", b"see you at noon").expect("valid")
        };
        r.encode(&mut stream);
    }
    let stream: &'static [u8] = stream.leak();
    Pair {
        group: "requests",
        param: None,
        throughput: Throughput::Elements(N as u64),
        codec: (
            "codec_1M",
            Box::new(move || {
                let mut input = black_box(stream);
                let mut total = 0usize;
                while let Ok((rest, r)) = Request::decode(input) {
                    total += r.user().len() + r.receiver().len() + r.message().len();
                    input = rest;
                }
                total
            }),
        ),
        hand: (
            "hand_1M",
            Box::new(move || {
                let mut input = black_box(stream);
                let mut total = 0usize;
                while let Some((_, u, r, m, rest)) = hand::request(input) {
                    total += u.len() + r.len() + m.len();
                    input = rest;
                }
                total
            }),
        ),
    }
}

fn response_pair() -> Pair {
    let text = vec![b't'; 100];
    let items = vec![
        Item {
            sender: b"sender01",
            text: &text
        };
        255
    ];
    let mut bytes = Vec::new();
    Response::encode_items(&items, true, &mut bytes).expect("valid");
    let bytes: &'static [u8] = bytes.leak();
    Pair {
        group: "response_255",
        param: None,
        throughput: Throughput::Elements(255),
        codec: (
            "codec",
            Box::new(move || {
                let (_, r) = Response::decode(black_box(bytes)).expect("valid");
                r.items()
                    .map(|it| it.sender.len() + it.text.len())
                    .sum::<usize>()
            }),
        ),
        hand: (
            "hand",
            Box::new(move || {
                let (_, _, items) = hand::response(black_box(bytes)).expect("valid");
                hand::items(items)
                    .map(|(s, t)| s.len() + t.len())
                    .sum::<usize>()
            }),
        ),
    }
}

fn hello_messages() -> &'static [Vec<u8>] {
    let msgs: Vec<Vec<u8>> = (0..1000i64)
        .map(|i| {
            let mut v = Vec::new();
            let seq = i * 7919 - 3_000_000;
            let mut h = Hello::new(seq);
            h.terminator = match i % 3 {
                0 => codec::hello::Terminator::None,
                1 => codec::hello::Terminator::Lf,
                _ => codec::hello::Terminator::Nul,
            };
            h.encode(&mut v);
            v
        })
        .collect();
    msgs.leak()
}

fn hello_pair() -> Pair {
    let msgs = hello_messages();
    Pair {
        group: "hello",
        param: None,
        throughput: Throughput::Elements(msgs.len() as u64),
        codec: (
            "codec_decode_exact",
            Box::new(move || {
                let sum = black_box(msgs)
                    .iter()
                    .map(|m| Hello::decode_exact(m).map_or(0, |h| h.seq))
                    .fold(0i64, i64::wrapping_add);
                usize::from(sum != 0)
            }),
        ),
        hand: (
            "hand_exact",
            Box::new(move || {
                let sum = black_box(msgs)
                    .iter()
                    .map(|m| hand::hello_exact(m).unwrap_or(0))
                    .fold(0i64, i64::wrapping_add);
                usize::from(sum != 0)
            }),
        ),
    }
}

fn pairs() -> Vec<Pair> {
    let mut p = frame_pairs();
    p.extend([request_pair(), response_pair(), hello_pair()]);
    p
}

fn bench_pairs(c: &mut C) {
    for mut pair in pairs() {
        let mut group = c.benchmark_group(pair.group);
        group.throughput(pair.throughput.clone());
        for (name, run) in [&mut pair.codec, &mut pair.hand] {
            match pair.param {
                Some(p) => group.bench_function(BenchmarkId::new(*name, p), |b| b.iter(&mut *run)),
                None => group.bench_function(*name, |b| b.iter(&mut *run)),
            };
        }
        group.finish();
    }
}

fn hello_encode(c: &mut C) {
    let mut group = c.benchmark_group("hello");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("codec_encode", |b| {
        let mut out = Vec::with_capacity(64 * 1024);
        b.iter(|| {
            out.clear();
            for i in 0..1000i64 {
                Hello::new(black_box(i * 7919)).encode(&mut out);
            }
            out.len()
        })
    });
    group.finish();
}

/// The codec/hand ratio of every pair measured side by side: the two loops alternate for
/// `ROUNDS` rounds and each keeps its fastest round. Criterion measures one benchmark after
/// the other, so on a shared machine (another job's compile starting between the two) its two
/// estimates can be taken under different loads; alternating and keeping the minimum leaves
/// each loop's own cost, which is what the ratio is about.
fn side_by_side() {
    const ROUNDS: usize = 30;
    /// Each round runs a loop for about this long.
    const ROUND: Duration = Duration::from_millis(20);
    println!("\ncodec/hand, side by side (thread CPU time, fastest of {ROUNDS} rounds):");
    for mut pair in pairs() {
        let name = pair.name();
        // Calibrate: how many calls make one round.
        let started = thread_cpu_now();
        let mut calls = 0u32;
        while thread_cpu_now().saturating_sub(started) < ROUND / 4 {
            black_box((pair.codec.1)());
            calls += 1;
        }
        let calls = (calls * 4).max(1);
        let mut best = [Duration::MAX; 2];
        for _ in 0..ROUNDS {
            for (slot, run) in [&mut pair.codec.1, &mut pair.hand.1]
                .into_iter()
                .enumerate()
            {
                let t = thread_cpu_now();
                for _ in 0..calls {
                    black_box(run());
                }
                best[slot] = best[slot].min(thread_cpu_now().saturating_sub(t) / calls);
            }
        }
        println!(
            "  {name:<22} {:<20} {:>12?}  {:<16} {:>12?}  ratio {:.3}",
            pair.codec.0,
            best[0],
            pair.hand.0,
            best[1],
            best[0].as_secs_f64() / best[1].as_secs_f64()
        );
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_pairs, hello_encode
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // Only under `cargo bench` (which passes --bench), and not when a filter
    // (`cargo bench -p codec -- requests`) asks for less than the table.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filtered = args
        .iter()
        .any(|a| !a.starts_with('-') && a.parse::<f64>().is_err());
    if args.iter().any(|a| a == "--bench") && !filtered {
        side_by_side();
    }
}
