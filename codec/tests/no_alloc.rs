//! Decoding never allocates: a counting global allocator watches every decoder run over
//! every fixture vector (good and bad) and over all their prefixes.

mod common;

use codec::framed::{Frame, FrameBuffer};
use codec::hello::Hello;
use codec::messages::{ItemHeader, Request, RequestHeader, Response, ResponseHeader};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    // const-initialised: reading it never allocates, so the allocator cannot recurse.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: defers to the system allocator; the counter is a thread-local Cell.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Every vector's bytes, from every fixture file.
fn all_vectors() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for f in [
        "hello.toml",
        "framed.toml",
        "messages_request.toml",
        "messages_response.toml",
    ] {
        let text = std::fs::read_to_string(common::repo_root().join("fixtures/vectors").join(f))
            .expect("read");
        let doc: toml::Table = text.parse().expect("toml");
        for row in doc["vector"].as_array().expect("rows") {
            out.push(common::parse_bytes(row["bytes"].as_str().expect("bytes")));
        }
    }
    out
}

#[test]
fn decoders_never_allocate() {
    let vectors = all_vectors();
    let mut fb = FrameBuffer::new(u32::MAX);
    fb.push(&[0, 0, 0, 2, b'h', b'i', 0xFF, 0xFF, 0xFF, 0xFF]);
    let before = allocations();
    let mut decoded = 0usize;
    for v in &vectors {
        let step = (v.len() / 64).max(1);
        for at in (0..=v.len()).step_by(step) {
            let b = &v[..at];
            decoded += usize::from(Hello::decode_exact(b).is_ok());
            decoded += usize::from(Hello::decode(b).is_ok());
            decoded += usize::from(Frame::decode(b, u32::MAX).is_ok());
            decoded += usize::from(Request::decode(b).is_ok());
            decoded += usize::from(RequestHeader::decode(b).is_ok());
            decoded += usize::from(ItemHeader::decode(b).is_ok());
            decoded += usize::from(ResponseHeader::decode(b).is_ok());
            if let Ok((_, r)) = Response::decode(b) {
                decoded += r.items().count();
            }
        }
    }
    assert_eq!(fb.next_frame().map(|p| p.map(<[u8]>::len)), Ok(Some(2)));
    assert_eq!(
        fb.next_frame(),
        Ok(None),
        "a 4 GiB declared length waits without allocating"
    );
    let after = allocations();
    assert!(decoded > 100, "the vectors decoded ({decoded})");
    assert_eq!(
        after - before,
        0,
        "decoding allocated {} times",
        after - before
    );

    // The counter works: an allocation is seen.
    let v = std::hint::black_box(vec![1u8; 10]);
    assert!(allocations() > after, "the counting allocator saw nothing");
    drop(v);
}
