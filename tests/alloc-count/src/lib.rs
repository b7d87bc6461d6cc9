//! A counting global allocator, for tests that pin the number of heap
//! allocations of a hot path (docs/PERFORMANCE.md, "Allocations").
//!
//! A test binary installs it with
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: clientcreds_alloc_count::Counting = clientcreds_alloc_count::Counting;
//! ```
//!
//! and measures a closure with [`measure`]. Counting is per thread and only
//! inside [`measure`]: the test harness's other threads, and whatever the
//! code under test hands to another thread, are not counted, so the code
//! under test must run on the measuring thread (a current-thread tokio
//! runtime driven by `block_on` does).
//!
//! Every call of `alloc`, `alloc_zeroed` and `realloc` counts as one
//! allocation (a `realloc` may move the block), with the requested size
//! as its bytes; frees are counted apart.

// The one exception to the workspace's `forbid(unsafe_code)`: the trait is
// unsafe to implement. Every method forwards to `System` unchanged.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The allocator: [`System`], counting on the current thread while a
/// [`measure`] call runs there.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counting;

/// What a [`measure`] call counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Calls of `alloc`, `alloc_zeroed` and `realloc`.
    pub allocations: u64,
    /// Bytes those calls asked for (for `realloc`, the new size).
    pub bytes: u64,
    /// Calls of `dealloc`.
    pub frees: u64,
}

impl Counts {
    /// Allocations per operation over `ops` operations, rounded up.
    #[must_use]
    pub fn allocations_per(&self, ops: u64) -> u64 {
        self.allocations.div_ceil(ops.max(1))
    }

    /// Bytes per operation over `ops` operations, rounded up.
    #[must_use]
    pub fn bytes_per(&self, ops: u64) -> u64 {
        self.bytes.div_ceil(ops.max(1))
    }
}

thread_local! {
    // `const` thread-locals without a destructor: reading them never
    // allocates, so they are safe to touch inside the allocator.
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
    static FREES: Cell<u64> = const { Cell::new(0) };
}

fn count_allocation(size: usize) {
    // `try_with`: during thread teardown the slots may be gone.
    if ACTIVE.try_with(Cell::get).unwrap_or(false) {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        let _ = BYTES.try_with(|c| c.set(c.get() + size as u64));
    }
}

fn count_free() {
    if ACTIVE.try_with(Cell::get).unwrap_or(false) {
        let _ = FREES.try_with(|c| c.set(c.get() + 1));
    }
}

// SAFETY: every method forwards its arguments unchanged to `System`, which
// upholds the `GlobalAlloc` contract; the counting touches only
// const-initialised thread-locals without destructors, which never
// allocate and never unwind.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_allocation(layout.size());
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_allocation(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_allocation(new_size);
        // SAFETY: the caller's contract for `realloc` is passed on as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count_free();
        // SAFETY: the caller's contract for `dealloc` is passed on as is.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Runs `f` on this thread, counting the allocations it makes here.
///
/// Nested calls are not supported (the inner call's counts would be
/// reset); the tests make one call at a time.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Counts) {
    ALLOCATIONS.with(|c| c.set(0));
    BYTES.with(|c| c.set(0));
    FREES.with(|c| c.set(0));
    ACTIVE.with(|a| a.set(true));
    let result = f();
    ACTIVE.with(|a| a.set(false));
    let counts = Counts {
        allocations: ALLOCATIONS.with(Cell::get),
        bytes: BYTES.with(Cell::get),
        frees: FREES.with(Cell::get),
    };
    (result, counts)
}

/// Whether [`Counting`] is this binary's global allocator: one boxed byte
/// must be counted. A test asserts this first, so that a missing
/// `#[global_allocator]` fails instead of reporting zero allocations.
#[must_use]
pub fn installed() -> bool {
    let (_, counts) = measure(|| std::hint::black_box(Box::new(0_u8)));
    counts.allocations >= 1
}
