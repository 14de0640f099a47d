//! Codec throughput against plain hand-written slice parsers of the same formats (the
//! yardsticks, `hand::*` below, doing the same validation). Run late and short:
//! `cargo bench -p codec -- --measurement-time 2 --warm-up-time 1`.
//!
//! Groups: `frames/<size>` (a ~4 MiB stream of 64 B, 1 KiB or 64 KiB frames, with
//! `Frame::decode` and with `FrameBuffer` fed 64 KiB reads), `requests` (1M small requests),
//! `response_255` (a 255-item response decoded and iterated), `hello` (HELLO messages).

use codec::framed::{Frame, FrameBuffer};
use codec::hello::Hello;
use codec::messages::{Item, Request, Response};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

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

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

fn frames(c: &mut Criterion) {
    const STREAM: usize = 4 << 20;
    const READ: usize = 64 * 1024;
    const MAX: u32 = 1 << 20;
    let mut group = c.benchmark_group("frames");
    for size in [64usize, 1024, 65536] {
        let payload: Vec<u8> = (0..=255u8).cycle().take(size).collect();
        let mut stream = Vec::new();
        while stream.len() + size + 4 <= STREAM {
            Frame { payload: &payload }.encode(&mut stream);
        }
        let count = stream.len() / (size + 4);
        group.throughput(Throughput::Bytes(stream.len() as u64));

        group.bench_with_input(
            BenchmarkId::new("codec_Frame_decode", size),
            &stream,
            |b, s| {
                b.iter(|| {
                    let mut input = black_box(&s[..]);
                    let mut total = 0usize;
                    while let Ok((rest, f)) = Frame::decode(input, MAX) {
                        total += f.payload.len();
                        input = rest;
                    }
                    assert_eq!(total, count * size);
                    total
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("hand_slice", size), &stream, |b, s| {
            b.iter(|| {
                let mut input = black_box(&s[..]);
                let mut total = 0usize;
                while let Some((p, rest)) = hand::frame(input, MAX) {
                    total += p.len();
                    input = rest;
                }
                assert_eq!(total, count * size);
                total
            })
        });
        group.bench_with_input(
            BenchmarkId::new("codec_FrameBuffer", size),
            &stream,
            |b, s| {
                let mut fb = FrameBuffer::new(MAX);
                b.iter(|| {
                    let mut total = 0usize;
                    for read in black_box(&s[..]).chunks(READ) {
                        fb.push(read);
                        while let Ok(Some(p)) = fb.next_frame() {
                            total += p.len();
                        }
                    }
                    assert_eq!(total, count * size);
                    total
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("hand_reassembly", size),
            &stream,
            |b, s| {
                let mut rb = hand::Reassembly::default();
                b.iter(|| {
                    let mut total = 0usize;
                    for read in black_box(&s[..]).chunks(READ) {
                        rb.push(read);
                        while let Some(p) = rb.next(MAX) {
                            total += p.len();
                        }
                    }
                    assert_eq!(total, count * size);
                    total
                })
            },
        );
    }
    group.finish();
}

fn requests(c: &mut Criterion) {
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
    let mut group = c.benchmark_group("requests");
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("codec_1M", |b| {
        b.iter(|| {
            let mut input = black_box(&stream[..]);
            let mut total = 0usize;
            while let Ok((rest, r)) = Request::decode(input) {
                total += r.user().len() + r.receiver().len() + r.message().len();
                input = rest;
            }
            total
        })
    });
    group.bench_function("hand_1M", |b| {
        b.iter(|| {
            let mut input = black_box(&stream[..]);
            let mut total = 0usize;
            while let Some((_, u, r, m, rest)) = hand::request(input) {
                total += u.len() + r.len() + m.len();
                input = rest;
            }
            total
        })
    });
    group.finish();
}

fn response_255(c: &mut Criterion) {
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
    let mut group = c.benchmark_group("response_255");
    group.throughput(Throughput::Elements(255));
    group.bench_function("codec", |b| {
        b.iter(|| {
            let (_, r) = Response::decode(black_box(&bytes)).expect("valid");
            r.items()
                .map(|it| it.sender.len() + it.text.len())
                .sum::<usize>()
        })
    });
    group.bench_function("hand", |b| {
        b.iter(|| {
            let (_, _, items) = hand::response(black_box(&bytes)).expect("valid");
            hand::items(items)
                .map(|(s, t)| s.len() + t.len())
                .sum::<usize>()
        })
    });
    group.finish();
}

fn hello(c: &mut Criterion) {
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
    let mut group = c.benchmark_group("hello");
    group.throughput(Throughput::Elements(msgs.len() as u64));
    group.bench_function("codec_decode_exact", |b| {
        b.iter(|| {
            black_box(&msgs)
                .iter()
                .map(|m| Hello::decode_exact(m).map_or(0, |h| h.seq))
                .fold(0i64, i64::wrapping_add)
        })
    });
    group.bench_function("hand_exact", |b| {
        b.iter(|| {
            black_box(&msgs)
                .iter()
                .map(|m| hand::hello_exact(m).unwrap_or(0))
                .fold(0i64, i64::wrapping_add)
        })
    });
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

criterion_group! {
    name = benches;
    config = config();
    targets = frames, requests, response_255, hello
}
criterion_main!(benches);
