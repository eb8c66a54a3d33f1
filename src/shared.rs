//! `Shared`: an immutable text that many rows of the plan name, held once behind one word.
//!
//! A large export's plan holds millions of texts of their own (a uuid id, a row's key), each in
//! an allocation of its own: its count and length, then its bytes. Both fit in 8 bytes here
//! (`arcstr` takes 16), which puts a 36-byte uuid in the allocator's 48-byte class instead of
//! the 64-byte one. The empty text is never allocated.

use std::alloc::{self, Layout};
use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicU32, Ordering};

/// Items ahead of the one being made whose texts are asked of memory: they lie all over the
/// heap, and asked this early they arrive while the items before them are written.
const FETCH_AHEAD: usize = 128;

/// `make` of each of `items`; the texts (`texts`) of the item `FETCH_AHEAD` places on are asked
/// of memory as it is made.
pub fn fetched_ahead<'a, T, I, O, const N: usize>(
    items: I,
    texts: impl Fn(&'a T) -> [Option<&'a Shared>; N] + 'a,
    make: impl Fn(&'a T) -> O + 'a,
) -> impl Iterator<Item = O> + 'a
where
    T: 'a,
    I: Iterator<Item = &'a T> + Clone + 'a,
{
    let later = items.clone().skip(FETCH_AHEAD).map(Some).chain(std::iter::repeat(None));
    items.zip(later).map(move |(item, later)| {
        for text in later.map(&texts).into_iter().flatten().flatten() {
            text.prefetch();
        }
        make(item)
    })
}

/// `items`, taken one at a time; the text (`text`) of the item `FETCH_AHEAD` places on is asked
/// of memory as each is taken, so that an item's text is at hand when it is read and dropped.
pub fn taken_fetched_ahead<T>(items: Vec<T>, text: impl Fn(&T) -> &Shared) -> impl Iterator<Item = T> {
    let mut items = items.into_iter();
    std::iter::from_fn(move || {
        if let Some(later) = items.as_slice().get(FETCH_AHEAD) {
            text(later).prefetch();
        }
        items.next()
    })
}

/// What precedes a text's bytes.
#[repr(C, align(8))]
struct Header {
    /// How many `Shared` point at it; `STATIC` for one that is never freed.
    count: AtomicU32,
    /// Its length in bytes, or `LONG`: then the length is the `u64` that follows.
    len: u32,
}

const HEADER: usize = std::mem::size_of::<Header>();
/// The count of the empty text, which is never freed.
const STATIC: u32 = u32::MAX;
/// A clone past this many aborts, as `Arc`'s do: such counts only come from leaked clones.
const MAX_COUNT: u32 = u32::MAX / 2;
/// The length field of a long text, whose length follows the header.
const LONG: u32 = u32::MAX;
/// Texts from this length on are long: 4 GiB, or a few bytes in the tests (which then go
/// through both layouts).
const LONG_FROM: usize = if cfg!(test) { 1000 } else { LONG as usize };

static EMPTY: Header = Header { count: AtomicU32::new(STATIC), len: 0 };

/// An immutable, reference-counted text behind a one-word pointer.
pub struct Shared(NonNull<Header>);

// SAFETY: the bytes never change after they are written, and the count is atomic.
unsafe impl Send for Shared {}
// SAFETY: as above: `&Shared` only reads the bytes and changes the count atomically.
unsafe impl Sync for Shared {}

impl Shared {
    fn header(&self) -> &Header {
        // SAFETY: the pointer is to a live header: the text is freed only when its last
        // `Shared` drops.
        unsafe { self.0.as_ref() }
    }

    /// Where the header and then the bytes lie: which text it is.
    pub fn as_ptr(&self) -> *const u8 {
        self.0.as_ptr().cast()
    }

    /// Asks for the cache lines of the text (its length, then its first bytes) without waiting
    /// for them: from the pointer, not through it (reading the length would wait).
    pub fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let at = self.as_ptr().cast::<i8>();
            // SAFETY: SSE is part of x86_64, and a prefetch reads nothing the program sees and
            // never faults, whatever the address.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(at);
                _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(64));
            }
        }
    }

    /// Whether both are the same text, not merely equal ones.
    pub fn ptr_eq(a: &Shared, b: &Shared) -> bool {
        a.0 == b.0
    }

    /// The allocation of a text of `len` bytes, and where its bytes start in it.
    fn layout(len: usize) -> (Layout, usize) {
        let start = if len < LONG_FROM { HEADER } else { HEADER + 8 };
        let size = start.checked_add(len).expect("a text's size fits in memory");
        (Layout::from_size_align(size, 8).expect("a text's layout fits in memory"), start)
    }

    /// The text's bytes start after the header, and its length.
    fn start_and_len(&self) -> (usize, usize) {
        match self.header().len {
            // SAFETY: a long text's length was written as a u64 right after its header, which
            // is 8-aligned as the allocation is.
            LONG => (HEADER + 8, unsafe { self.0.as_ptr().cast::<u8>().add(HEADER).cast::<u64>().read() } as usize),
            len => (HEADER, len as usize),
        }
    }

    pub fn as_str(&self) -> &str {
        let (start, len) = self.start_and_len();
        // SAFETY: `len` bytes of UTF-8 were copied from a `&str` at `start`, and stay until the
        // text is freed, after the last `Shared` of it.
        unsafe {
            let bytes = std::slice::from_raw_parts(self.0.as_ptr().cast::<u8>().add(start), len);
            std::str::from_utf8_unchecked(bytes)
        }
    }
}

impl From<&str> for Shared {
    fn from(text: &str) -> Shared {
        if text.is_empty() {
            return Shared::default();
        }
        let (layout, start) = Shared::layout(text.len());
        // SAFETY: the layout's size is at least the header's, so not zero.
        let raw = unsafe { alloc::alloc(layout) };
        let Some(header) = NonNull::new(raw.cast::<Header>()) else { alloc::handle_alloc_error(layout) };
        let len = if text.len() < LONG_FROM { text.len() as u32 } else { LONG };
        // SAFETY: the allocation holds the header, then (for a long text) its length, then the
        // bytes; it is 8-aligned, as the header and the length need.
        unsafe {
            header.as_ptr().write(Header { count: AtomicU32::new(1), len });
            if len == LONG {
                raw.add(HEADER).cast::<u64>().write(text.len() as u64);
            }
            std::ptr::copy_nonoverlapping(text.as_ptr(), raw.add(start), text.len());
        }
        Shared(header)
    }
}

impl From<String> for Shared {
    fn from(text: String) -> Shared {
        Shared::from(text.as_str())
    }
}

impl From<&String> for Shared {
    fn from(text: &String) -> Shared {
        Shared::from(text.as_str())
    }
}

/// The same text, shared.
impl From<&Shared> for Shared {
    fn from(text: &Shared) -> Shared {
        text.clone()
    }
}

impl Default for Shared {
    fn default() -> Shared {
        Shared(NonNull::from(&EMPTY))
    }
}

impl Clone for Shared {
    fn clone(&self) -> Shared {
        let count = &self.header().count;
        // A static text's count is never written: threads that share it do not contend for it.
        if count.load(Ordering::Relaxed) != STATIC && count.fetch_add(1, Ordering::Relaxed) > MAX_COUNT {
            std::process::abort();
        }
        Shared(self.0)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let count = &self.header().count;
        if count.load(Ordering::Relaxed) == STATIC || count.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // Every other `Shared`'s use of the text happens before it is freed (as `Arc` does).
        fence(Ordering::Acquire);
        let (layout, _) = Shared::layout(self.len());
        // SAFETY: this was the last `Shared` of a text allocated with this layout.
        unsafe { alloc::dealloc(self.0.as_ptr().cast(), layout) }
    }
}

impl Deref for Shared {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Shared {
    fn as_ref(&self) -> &str {
        self
    }
}

impl Borrow<str> for Shared {
    fn borrow(&self) -> &str {
        self
    }
}

/// Hashes as its text does, so that a set of them is looked up by `&str`.
impl Hash for Shared {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl PartialEq for Shared {
    fn eq(&self, other: &Shared) -> bool {
        Shared::ptr_eq(self, other) || self.as_str() == other.as_str()
    }
}

impl Eq for Shared {}

impl PartialEq<str> for Shared {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Shared {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialOrd for Shared {
    fn partial_cmp(&self, other: &Shared) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Shared {
    fn cmp(&self, other: &Shared) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_fetched_ahead_are_every_item_in_order() {
        for count in [0, 1, FETCH_AHEAD - 1, FETCH_AHEAD, FETCH_AHEAD + 1, 3 * FETCH_AHEAD + 7] {
            let items: Vec<(Shared, Option<Shared>)> =
                (0..count).map(|i| (Shared::from(i.to_string()), (i % 2 == 0).then(|| Shared::from("even")))).collect();
            let made: Vec<(String, Option<String>)> = fetched_ahead(
                items.iter(),
                |(number, even)| [Some(number), even.as_ref()],
                |(number, even)| (number.to_string(), even.as_deref().map(str::to_string)),
            )
            .collect();
            let expected: Vec<(String, Option<String>)> =
                items.iter().map(|(number, even)| (number.to_string(), even.as_deref().map(str::to_string))).collect();
            assert_eq!(made, expected, "{count} items");
            let taken: Vec<String> =
                taken_fetched_ahead(items, |(number, _)| number).map(|(n, _)| n.to_string()).collect();
            let expected: Vec<String> = (0..count).map(|i| i.to_string()).collect();
            assert_eq!(taken, expected, "{count} items taken");
        }
    }
    use std::collections::HashSet;

    #[test]
    fn a_text_reads_back_as_given_and_clones_share_it() {
        let (short, long) = ("x".repeat(LONG_FROM - 1), "é".repeat(LONG_FROM));
        for text in ["", "a", "12345678", "0b1e7c1a-5e3f-4c6d-9a2b-3c4d5e6f7a8b", &short, &long] {
            let shared = Shared::from(text);
            let clone = shared.clone();
            assert_eq!(&*shared, text);
            assert!(Shared::ptr_eq(&shared, &clone));
            drop(shared);
            assert_eq!(&*clone, text, "a clone outlives the first");
        }
        assert!(Shared::ptr_eq(&Shared::from(""), &Shared::default()), "the empty text is never allocated");
    }

    #[test]
    fn equal_texts_compare_hash_and_look_up_as_their_text() {
        let (a, b) = (Shared::from("model-1"), Shared::from(String::from("model-1")));
        assert!(!Shared::ptr_eq(&a, &b));
        assert_eq!(a, b);
        assert_eq!(a, "model-1");
        let mut sorted = [Shared::from("b"), Shared::from("a")];
        sorted.sort();
        assert_eq!(sorted.map(|s| s.to_string()), ["a", "b"]);
        let set: HashSet<Shared> = [a].into_iter().collect();
        assert!(set.contains("model-1"));
        assert_eq!(format!("{b} {b:?}"), "model-1 \"model-1\"");
    }

    #[test]
    fn a_uuid_text_takes_the_allocators_48_byte_class() {
        assert_eq!(std::mem::size_of::<Shared>(), 8);
        assert_eq!(std::mem::size_of::<Option<Shared>>(), 8);
        assert_eq!(Shared::layout(36).0.size(), 44);
    }

    #[test]
    fn texts_cloned_and_dropped_on_many_threads_are_freed_once() {
        let text = Shared::from("shared by threads");
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    let clones: Vec<Shared> = (0..10_000).map(|_| text.clone()).collect();
                    assert!(clones.iter().all(|c| *c == "shared by threads"));
                });
            }
        });
        assert_eq!(text.header().count.load(Ordering::Relaxed), 1);
    }
}
