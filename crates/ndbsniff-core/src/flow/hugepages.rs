//! The allocator of the flow table's bucket arrays: the global allocator, with the large arrays
//! aligned to 2 MiB and, on Linux, backed by transparent huge pages where the system allows
//! them (`madvise(MADV_HUGEPAGE)`, honoured when THP is `always` or `madvise`).
//!
//! Owns: [`TableAlloc`]. A table of hundreds of thousands of flows spans tens of MB, and every
//! packet's probe lands on a random page of it: with 4 KiB pages nearly every probe also misses
//! the TLB (BENCHMARKS.md, "Which thread is the bottleneck, and when"). Small arrays (below
//! [`HUGE`]) are left alone, so a table of a few flows costs no more than before.
//!
//! Never: changes what is allocated or when, only the alignment of large arrays and the advice on
//! their pages; a refused advice is ignored (the pages are then ordinary ones).

use std::alloc::Layout;
use std::ptr::NonNull;

use allocator_api2::alloc::{AllocError, Allocator, Global};

/// Arrays of at least this many bytes are aligned to it and advised as huge pages.
pub(crate) const HUGE: usize = 2 << 20;

/// See the module notes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TableAlloc;

impl TableAlloc {
    /// The layout actually asked of the global allocator for `layout`.
    fn placed(layout: Layout) -> Layout {
        if layout.size() >= HUGE {
            layout.align_to(HUGE).unwrap_or(layout)
        } else {
            layout
        }
    }
}

// SAFETY: every block comes from `Global` with the layout `placed` gives, and goes back to it with
// the same layout (`placed` is a function of the caller's layout alone).
unsafe impl Allocator for TableAlloc {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let block = Global.allocate(Self::placed(layout))?;
        if layout.size() >= HUGE {
            advise_huge(block);
        }
        Ok(block)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: `ptr` was allocated by `allocate` with this layout (the caller's contract), so
        // by `Global` with `placed(layout)`.
        unsafe { Global.deallocate(ptr, Self::placed(layout)) }
    }
}

/// Advises the whole 2 MiB pages inside `block` as huge pages.
fn advise_huge(block: NonNull<[u8]>) {
    #[cfg(target_os = "linux")]
    {
        let start = block.as_ptr().cast::<u8>() as usize;
        let from = start.next_multiple_of(HUGE);
        let to = (start + block.len()) / HUGE * HUGE;
        if to > from {
            // SAFETY: the range lies inside a block this process owns; MADV_HUGEPAGE changes no
            // contents, only how the kernel may back the pages. Its result is only advice.
            unsafe {
                libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = block;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_arrays_are_aligned_to_huge_pages_and_given_back_alike() {
        for size in [64, HUGE - 1, HUGE, 5 * HUGE + 17] {
            let layout = Layout::from_size_align(size, 16).unwrap();
            let block = TableAlloc.allocate(layout).unwrap();
            assert!(block.len() >= size);
            let at = block.as_ptr().cast::<u8>() as usize;
            if size >= HUGE {
                assert_eq!(at % HUGE, 0, "{size} bytes at {at:#x}");
            }
            // The memory is usable end to end.
            unsafe {
                block.cast::<u8>().as_ptr().write_bytes(0xa5, size);
                TableAlloc.deallocate(block.cast(), layout);
            }
        }
    }
}
