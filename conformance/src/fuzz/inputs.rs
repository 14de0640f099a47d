//! Structure-aware inputs: a valid record or stream built with the codec's encoders, then
//! mutated where implementations go wrong (lengths off by one or huge, magic and IDs
//! changed, fields cut, bytes appended, floods), split at the record's field boundaries
//! and at random points, with pauses around the 1 s gap, and ended by a close, a
//! half-close or a reset. Every choice comes from one seeded RNG: same seed, same inputs.

use rand::{RngExt, SeedableRng};
use rand_xorshift::XorShiftRng;

use codec::framed::Frame;
use codec::hello::{Hello, Terminator};
use codec::messages::Request;

use super::{Ending, Script, Step};

/// The fuzzer's random source (xorshift: fast, and the same numbers for a seed everywhere).
#[derive(Debug, Clone)]
pub struct Gen {
    rng: XorShiftRng,
    /// Whether to use pauses past the gap (slow inputs); off for benchmarks of the rate.
    pub slow: bool,
}

impl Gen {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Gen {
        Gen {
            rng: XorShiftRng::seed_from_u64(seed),
            slow: true,
        }
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.rng.random_range(0..n)
        }
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.rng.random_range(0..100u32) < percent
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }

    fn name(&mut self) -> Vec<u8> {
        let len = *self.pick(&[1usize, 1, 3, 5, 8, 12, 254, 255]);
        let mut s = Vec::with_capacity(len);
        while s.len() < len {
            if self.chance(10) {
                s.extend_from_slice("é".as_bytes());
            } else {
                s.push(b'a' + u8::try_from(self.below(26)).unwrap_or(0));
            }
        }
        s.truncate(len);
        // Cutting inside "é" leaves invalid UTF-8 now and then: a mutation of its own.
        s
    }

    fn payload(&mut self) -> Vec<u8> {
        let len = *self.pick(&[0usize, 1, 9, 10, 11, 32, 100, 1500, 70_000]);
        match self.below(4) {
            0 => (0..len)
                .map(|i| b'a' + u8::try_from(i % 26).unwrap_or(0))
                .collect(),
            1 => "ünïcødé ✓ ".repeat(len / 14 + 1).into_bytes()[..len].to_vec(),
            2 => (0..len)
                .map(|_| u8::try_from(self.below(256)).unwrap_or(0))
                .collect(),
            _ => vec![b'x'; len],
        }
    }

    /// The valid bytes of one input of `suite` and the offsets where a field ends (split
    /// points a reader that assumes one recv() per record gets wrong).
    fn valid(&mut self, suite: &str) -> (Vec<u8>, Vec<usize>) {
        let mut out = Vec::new();
        let mut cuts = Vec::new();
        match suite {
            "hello" => {
                let seq = *self.pick(&[0i64, 5, 9, 99, 999, 123_456_789, 2_147_483_645]);
                let t = *self.pick(&[
                    Terminator::None,
                    Terminator::Lf,
                    Terminator::CrLf,
                    Terminator::Nul,
                ]);
                Hello { seq, terminator: t }.encode(&mut out);
                cuts.extend([3, 5, 6, 7]);
            }
            "framed" => {
                for _ in 0..=self.below(3) {
                    let p = self.payload();
                    cuts.extend([out.len() + 2, out.len() + 4]);
                    Frame { payload: &p }.encode(&mut out);
                    cuts.push(out.len());
                }
            }
            _ => {
                let (user, to, text) = (self.name(), self.name(), self.payload());
                let text = if text.is_empty() {
                    b"hi".to_vec()
                } else {
                    text
                };
                let text = &text[..text.len().min(65_535)];
                let req = if self.chance(50) {
                    Request::read(&user)
                } else {
                    Request::create(&user, &to, text)
                };
                if let Ok(r) = req {
                    r.encode(&mut out);
                }
                cuts.extend([1, 2, 3, 4, 5, 7, 7 + user.len()]);
            }
        }
        (out, cuts)
    }

    fn mutate(&mut self, suite: &str, b: &mut Vec<u8>) {
        let n = b.len();
        match self.below(9) {
            // A length field off by one, or huge.
            0 | 1 => {
                let (at, width) = match suite {
                    "framed" => (0, 4),
                    "messages" => (
                        *self.pick(&[3usize, 4, 5]),
                        if self.chance(50) { 1 } else { 2 },
                    ),
                    _ => (6 + self.below(4), 1),
                };
                if at + width <= n {
                    let delta: i64 = *self.pick(&[-1, 1, i64::MAX]);
                    let mut v: u64 = 0;
                    for &x in &b[at..at + width] {
                        v = v << 8 | u64::from(x);
                    }
                    let max = (1u64 << (8 * width)) - 1;
                    v = if delta == i64::MAX {
                        max
                    } else {
                        v.wrapping_add_signed(delta) & max
                    };
                    for i in 0..width {
                        b[at + width - 1 - i] = u8::try_from(v >> (8 * i) & 0xff).unwrap_or(0);
                    }
                }
            }
            // Magic or ID changed (messages), the keyword or space (hello), a byte (framed).
            2 => {
                let at = match suite {
                    "messages" => *self.pick(&[0usize, 1, 2]),
                    "hello" => *self.pick(&[0usize, 4, 5]),
                    _ => self.below(n.max(1)),
                };
                if at < n {
                    b[at] = *self.pick(&[0u8, 1, 2, 3, 0xff, b' ', b'a', b'-']);
                }
            }
            // A field cut short.
            3 => {
                let keep = self.below(n.max(1));
                b.truncate(keep);
            }
            // Bytes appended.
            4 => {
                let extra: Vec<u8> = (0..=self.below(16))
                    .map(|_| u8::try_from(self.below(256)).unwrap_or(0))
                    .collect();
                b.extend_from_slice(&extra);
            }
            // A byte removed or inserted in the middle.
            5 => {
                if n > 0 {
                    let at = self.below(n);
                    if self.chance(50) {
                        b.remove(at);
                    } else {
                        b.insert(at, *self.pick(&[0u8, b'\n', b'9', 0xff]));
                    }
                }
            }
            // The record twice (pipelining).
            6 => {
                let copy = b.clone();
                b.extend_from_slice(&copy);
            }
            // A flood.
            7 => {
                let len = *self.pick(&[4096usize, 65_536, 128 * 1024]);
                let byte = *self.pick(&[b'9', b'A', 0, 0xff]);
                b.resize(n + len, byte);
            }
            // Empty input: connect and end at once.
            _ => b.clear(),
        }
    }

    /// The next input for `suite`.
    pub fn input(&mut self, suite: &str) -> Script {
        let (mut bytes, mut cuts) = self.valid(suite);
        let mutations = *self.pick(&[0usize, 1, 1, 1, 2, 3]);
        for _ in 0..mutations {
            self.mutate(suite, &mut bytes);
        }
        cuts.retain(|&c| c > 0 && c < bytes.len());
        // Split at field boundaries and random points, sometimes.
        let mut splits: Vec<usize> = Vec::new();
        if !bytes.is_empty() && self.chance(30) {
            for _ in 0..=self.below(3) {
                let c = if !cuts.is_empty() && self.chance(70) {
                    *self.pick(&cuts)
                } else {
                    1 + self.below(bytes.len())
                };
                splits.push(c.min(bytes.len()));
            }
        }
        splits.sort_unstable();
        splits.dedup();
        let mut steps = Vec::new();
        let mut at = 0;
        for c in splits.into_iter().chain(std::iter::once(bytes.len())) {
            if c > at {
                if at > 0 {
                    steps.push(Step::Pause { ms: self.pause() });
                }
                steps.push(Step::Send {
                    hex: bytes[at..c].to_vec(),
                });
                at = c;
            }
        }
        // hello: after the reply, the third message (valid or not) on the same connection.
        if suite == "hello" && self.chance(50) {
            steps.push(Step::Await { ms: 200 });
            let (mut third, _) = self.valid("hello");
            if self.chance(50) {
                self.mutate("hello", &mut third);
            }
            steps.push(Step::Send { hex: third });
        }
        let ending = match self.below(10) {
            0 | 1 => Ending::HalfClose,
            2 | 3 => Ending::Reset,
            _ => Ending::Close,
        };
        Script { steps, ending }
    }

    fn pause(&mut self) -> u32 {
        // One input in twenty or so waits past the gap: enough to find a server that
        // mishandles it, few enough that the rate stays up.
        if self.slow && self.chance(5) {
            // Around the spec's 1 s gap.
            *self.pick(&[900u32, 1100])
        } else {
            *self.pick(&[0u32, 5, 50, 300])
        }
    }
}
