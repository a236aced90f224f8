//! A front for the global allocator: small blocks (up to [`MAX_SMALL`] bytes, alignment up to
//! 8) are kept on one free list per 8-byte size class and handed out again in O(1); everything
//! else goes to the allocator behind.
//!
//! Why: a client allocates and frees many small strings and vectors per frame (keys, metas,
//! envelope fields). talc, behind this, searches its bins for a chunk that fits; after a large
//! reconcile frees thousands of chunks of mixed sizes, that search dominated a presence diff's
//! profile (docs/design.md, "The allocator front"). A class's blocks are never returned to the allocator behind: the
//! memory held is the peak of live small blocks per class, and a steady workload reuses it
//! (P5 measures that it stays flat).
//!
//! Single-threaded only: the lists are plain cells. The wasm build has no threads (no atomics
//! target feature), which is what makes `Sync` sound here, as for talc's `new_global`.

use ::core::alloc::{GlobalAlloc, Layout};
use ::core::cell::UnsafeCell;
use ::core::ptr;

/// The largest size served from a class.
pub const MAX_SMALL: usize = 256;
/// Class granularity, and the alignment every class block has.
const GRAIN: usize = 8;
const CLASSES: usize = MAX_SMALL / GRAIN;

pub struct SizeClasses<A> {
    behind: A,
    /// Per class, the first free block; each free block's first word points to the next.
    free: UnsafeCell<[*mut u8; CLASSES]>,
}

// SAFETY: only used where there is one thread (see the module's documentation).
unsafe impl<A: Sync> Sync for SizeClasses<A> {}

impl<A> SizeClasses<A> {
    pub const fn new(behind: A) -> Self {
        SizeClasses {
            behind,
            free: UnsafeCell::new([ptr::null_mut(); CLASSES]),
        }
    }
}

/// The class of a layout served from the lists, if it is one.
fn class(layout: Layout) -> Option<usize> {
    let size = layout.size();
    (size != 0 && size <= MAX_SMALL && layout.align() <= GRAIN).then(|| (size - 1) / GRAIN)
}

/// The layout a class's blocks are made with by the allocator behind.
fn block(class: usize) -> Layout {
    // SAFETY: GRAIN is a power of two and the size is at most MAX_SMALL.
    unsafe { Layout::from_size_align_unchecked((class + 1) * GRAIN, GRAIN) }
}

unsafe impl<A: GlobalAlloc> GlobalAlloc for SizeClasses<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(c) = class(layout) else {
            return self.behind.alloc(layout);
        };
        let free = &mut *self.free.get();
        let head = free[c];
        if head.is_null() {
            return self.behind.alloc(block(c));
        }
        // A free block's first word is the next free block (blocks are 8-aligned, at least 8 B).
        free[c] = head.cast::<*mut u8>().read();
        head
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        match class(layout) {
            Some(c) => {
                let free = &mut *self.free.get();
                p.cast::<*mut u8>().write(free[c]);
                free[c] = p;
            }
            None => self.behind.dealloc(p, layout),
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees that new_size, rounded up to the alignment, fits isize.
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        match (class(layout), class(new_layout)) {
            (Some(a), Some(b)) if a == b => p,
            (None, None) => self.behind.realloc(p, layout, new_size),
            _ => {
                let q = self.alloc(new_layout);
                if !q.is_null() {
                    ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
                    self.dealloc(p, layout);
                }
                q
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{SizeClasses, MAX_SMALL};
    use crate::core::SplitMix64;
    use crate::prelude::*;
    use ::core::alloc::{GlobalAlloc, Layout};
    use ::core::cell::Cell;
    use std::alloc::System;

    /// Hands out blocks of exactly the size asked, back to back, and never reuses them: a block
    /// written past its end corrupts its neighbour, which the fill checks then see.
    struct Bump {
        memory: Vec<u64>,
        used: Cell<usize>,
    }

    unsafe impl GlobalAlloc for Bump {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let base = self.memory.as_ptr() as *mut u8;
            let start = (base as usize + self.used.get()).next_multiple_of(layout.align());
            let end = start - base as usize + layout.size();
            assert!(end <= self.memory.len() * 8, "bump memory exhausted");
            self.used.set(end);
            base.add(start - base as usize)
        }
        unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
    }

    fn bump() -> Bump {
        Bump {
            memory: vec![0; 16 << 20],
            used: Cell::new(0),
        }
    }

    /// A seeded mix of allocations, frees and reallocations of every size around the small
    /// limit and alignments up to 32: each block keeps its own fill pattern (so overlapping
    /// blocks or a bad copy show), is aligned as asked, and blocks freed are reused.
    #[test]
    fn blocks_stay_distinct_aligned_and_intact_through_reuse_and_realloc() {
        let a = SizeClasses::new(bump());
        let mut rng = SplitMix64::new(42);
        let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
        let fill = |p: *mut u8, n: usize, v: u8| unsafe { p.write_bytes(v, n) };
        let intact = |p: *mut u8, n: usize, v: u8| (0..n).all(|i| unsafe { *p.add(i) } == v);
        let mut reused = 0;
        let mut freed: Vec<*mut u8> = Vec::new();
        for step in 0..200_000u32 {
            let roll = rng.next_u64();
            let v = (step % 251) as u8;
            if live.is_empty() || roll % 3 == 0 {
                let size = 1 + (rng.next_u64() as usize) % (MAX_SMALL + 64);
                let align = 1 << (rng.next_u64() % 6);
                let layout = Layout::from_size_align(size, align).unwrap();
                let p = unsafe { a.alloc(layout) };
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0, "alignment {align}");
                if freed.contains(&p) {
                    reused += 1;
                }
                fill(p, size, v);
                live.push((p, layout, v));
            } else {
                let i = (rng.next_u64() as usize) % live.len();
                let (p, layout, old) = live.swap_remove(i);
                assert!(intact(p, layout.size(), old), "block overwritten");
                if roll % 3 == 1 {
                    unsafe { a.dealloc(p, layout) };
                    if freed.len() < 64 {
                        freed.push(p);
                    }
                } else {
                    let new_size = 1 + (rng.next_u64() as usize) % (MAX_SMALL + 64);
                    let q = unsafe { a.realloc(p, layout, new_size) };
                    assert!(!q.is_null());
                    assert_eq!(q as usize % layout.align(), 0);
                    let kept = layout.size().min(new_size);
                    assert!(intact(q, kept, old), "realloc lost the contents");
                    let layout = Layout::from_size_align(new_size, layout.align()).unwrap();
                    fill(q, new_size, v);
                    live.push((q, layout, v));
                }
            }
        }
        assert!(reused > 0, "freed small blocks are handed out again");
        for (p, layout, v) in live {
            assert!(intact(p, layout.size(), v));
            unsafe { a.dealloc(p, layout) };
        }
    }

    #[test]
    fn a_freed_block_is_the_next_one_of_its_class() {
        let a = SizeClasses::new(System);
        let small = Layout::from_size_align(40, 8).unwrap();
        let same_class = Layout::from_size_align(35, 4).unwrap();
        unsafe {
            let p = a.alloc(small);
            a.dealloc(p, small);
            assert_eq!(a.alloc(same_class), p);
            a.dealloc(p, same_class);
        }
    }
}
