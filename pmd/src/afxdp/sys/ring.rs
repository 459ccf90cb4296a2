//! The four rings of an XDP socket, mapped from the kernel: a producer index, a consumer index, a flags
//! word and a power-of-two array of entries. Each ring has one producer and one consumer, the kernel on one
//! side and this process on the other: the producer writes entries and then publishes them with a release
//! store of its index; the consumer reads its peer's index with an acquire load before it reads entries,
//! and gives entries back with a release store of its own index. Both indices run free and wrap at 2^32.

use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};

/// A fill or completion ring entry: a UMEM address.
pub type Addr = u64;

/// An rx or tx ring entry: a frame at a UMEM address.
pub type Desc = libc::xdp_desc;

/// A mapping of one ring, unmapped on drop.
#[derive(Debug)]
struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `len` are exactly what mmap returned, and nothing refers to the mapping after
        // its ring is dropped.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// Where one ring's parts lie in its mapping, and how big it is.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// The kernel's offsets of the producer index, consumer index, entries and flags.
    pub offsets: libc::xdp_ring_offset,
    /// Entries (a power of two).
    pub size: u32,
    /// The mmap page offset that selects this ring.
    pub pgoff: u64,
}

/// One ring of entries of type `T`, shared with the kernel.
pub struct Ring<T> {
    _map: Mapping,
    producer: *const AtomicU32,
    consumer: *const AtomicU32,
    flags: *const AtomicU32,
    entries: *mut T,
    mask: u32,
    /// Our own index (the producer's if we produce, the consumer's if we consume), as last published.
    local: u32,
    _entries: PhantomData<T>,
}

// SAFETY: a ring is a private mapping handle used by the one thread that owns its queue; the pointers stay
// valid wherever the ring moves, since they point into the mapping it owns.
unsafe impl<T: Send> Send for Ring<T> {}

impl<T> std::fmt::Debug for Ring<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring").field("size", &(self.mask + 1)).field("local", &self.local).finish()
    }
}

impl<T: Copy> Ring<T> {
    /// Maps the ring `layout` describes from XDP socket `fd`.
    ///
    /// # Safety
    /// `layout` is the kernel's for this ring of `fd` (its `XDP_MMAP_OFFSETS` entry, the page offset that
    /// names the ring, and the size the ring was given with its setsockopt), and `T` is the ring's entry
    /// type ([`Addr`] for the fill and completion rings, [`Desc`] for rx and tx): the ring's methods read
    /// and write through the pointers made from them.
    pub unsafe fn map(fd: &OwnedFd, layout: Layout) -> io::Result<Ring<T>> {
        if !layout.size.is_power_of_two() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let len = layout.offsets.desc as usize + layout.size as usize * std::mem::size_of::<T>();
        // SAFETY: a shared read-write mapping of the socket's ring, at the page offset that names it; no
        // existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd.as_raw_fd(),
                layout.pgoff as libc::off_t,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let map = Mapping { ptr: ptr.cast(), len };
        let at = |off: u64| map.ptr.wrapping_add(off as usize);
        let (producer, consumer) = (at(layout.offsets.producer).cast(), at(layout.offsets.consumer).cast());
        Ok(Ring {
            flags: at(layout.offsets.flags).cast(),
            entries: at(layout.offsets.desc).cast(),
            mask: layout.size - 1,
            local: 0,
            producer,
            consumer,
            _map: map,
            _entries: PhantomData,
        })
    }

    /// The kernel's side's index (the consumer's if we produce, the producer's if we consume), read with
    /// acquire: entries it published are visible after this.
    fn peer(&self, index: *const AtomicU32) -> u32 {
        // SAFETY: the index lies in the mapping, which lives as long as `self`, is 4-byte aligned (the
        // kernel's layout) and is only accessed atomically by both sides.
        unsafe { (*index).load(Ordering::Acquire) }
    }

    fn publish(&mut self, index: *const AtomicU32, value: u32) {
        self.local = value;
        // SAFETY: as in `peer`.
        unsafe { (*index).store(value, Ordering::Release) };
    }

    /// Whether the kernel asked to be woken (XDP_RING_NEED_WAKEUP) to go on with this ring.
    pub fn needs_wakeup(&self) -> bool {
        // SAFETY: as in `peer`; the flags word is written by the kernel only.
        unsafe { (*self.flags).load(Ordering::Relaxed) & libc::XDP_RING_NEED_WAKEUP != 0 }
    }

    /// Entries pending between our index and the kernel's: for a ring we produce, those the kernel has not
    /// consumed yet; for one we consume, those it has produced and we have not taken.
    pub fn pending_as_producer(&self) -> u32 {
        self.local.wrapping_sub(self.peer(self.consumer))
    }

    /// Room for entries in a ring we produce.
    pub fn free(&self) -> u32 {
        self.mask + 1 - self.pending_as_producer()
    }

    /// Writes `value` at `ahead` entries past our producer index (not yet visible to the kernel).
    pub fn write(&mut self, ahead: u32, value: T) {
        let slot = (self.local.wrapping_add(ahead) & self.mask) as usize;
        // SAFETY: `slot` is masked to the ring's size, so it lies in the entries array of the mapping, which
        // lives as long as `self`. The kernel reads entries only after `submit` publishes them; a caller
        // writing past `free` would replace an entry the kernel has yet to read (a wrong address given to
        // the kernel, which checks it), not touch memory of this process.
        unsafe { self.entries.add(slot).write_volatile(value) };
    }

    /// Publishes the next `n` written entries to the kernel.
    pub fn submit(&mut self, n: u32) {
        self.publish(self.producer, self.local.wrapping_add(n));
    }

    /// Entries the kernel has produced into a ring we consume, not taken yet.
    pub fn available(&self) -> u32 {
        self.peer(self.producer).wrapping_sub(self.local)
    }

    /// The entry `ahead` past our consumer index (`ahead` below what `available` reported).
    pub fn read(&self, ahead: u32) -> T {
        let slot = (self.local.wrapping_add(ahead) & self.mask) as usize;
        // SAFETY: `slot` is masked to the ring's size; the kernel published the entry (acquire in
        // `available`) and does not write it again until `release` gives it back.
        unsafe { self.entries.add(slot).read_volatile() }
    }

    /// Gives the next `n` entries back to the kernel.
    pub fn release(&mut self, n: u32) {
        self.publish(self.consumer, self.local.wrapping_add(n));
    }
}
