//! The record pipeline: a record file's layout, read window by window, walked
//! record by record, and written to outputs under temporary names.
//!
//! * [`layout`]: record layouts (seed, pcap, custom) and their decoding
//! * [`input`]: a read-only input reached through mapping windows or pread
//! * [`walk`]: the record walk over an input, naming the offset of any damage
//! * [`output`]: outputs under a temporary name, written by the kernel or a mapping
//! * the operations: [`split`], [`join`], [`check`], [`recover`], [`copy`],
//!   [`generate`] and [`demo`]

pub(crate) mod check;
pub(crate) mod copy;
pub(crate) mod demo;
pub(crate) mod generate;
pub(crate) mod input;
pub(crate) mod join;
pub(crate) mod layout;
pub(crate) mod output;
pub(crate) mod pcapng;
pub(crate) mod pieces;
pub(crate) mod recover;
pub(crate) mod split;
pub(crate) mod stream;
pub(crate) mod walk;

/// The next chunk of a copy with `remaining` bytes (a 64-bit length) left,
/// at most `cap` bytes at once; never 0 while something remains, whatever
/// the width of `T`. (`cap.min(remaining as usize)` is 0 on a 32-bit CPU
/// whenever the low 32 bits of `remaining` are 0: a copy of 4+ GiB then
/// loops forever.) `T` is `usize` in the program; the tests also use `u32`
/// to check the 32-bit behaviour on any host.
pub(crate) fn chunk_len<T>(remaining: u64, cap: T) -> T
where
    T: Copy + TryFrom<u64> + TryInto<u64>,
{
    let cap64 = cap.try_into().unwrap_or(u64::MAX);
    T::try_from(remaining.min(cap64)).unwrap_or(cap)
}

#[cfg(test)]
mod tests {
    use super::chunk_len;

    /// Chunks a copy of `len` bytes with a `cap`-byte buffer of width `T`
    /// takes; None when a step would make no progress (the endless loop).
    fn steps<T>(len: u64, cap: T) -> Option<u64>
    where
        T: Copy + TryFrom<u64> + TryInto<u64>,
    {
        let (mut left, mut n) = (len, 0u64);
        while left > 0 {
            let k: u64 = chunk_len(left, cap).try_into().ok()?;
            if k == 0 || k > left {
                return None;
            }
            left -= k;
            n += 1;
        }
        Some(n)
    }

    #[test]
    fn chunks_of_lengths_beyond_4_gib_on_32_bit_widths() {
        const MIB: u32 = 1 << 20;
        assert_eq!(chunk_len(1u64 << 32, MIB), MIB);
        assert_eq!(chunk_len((1u64 << 32) + 5, MIB), MIB);
        assert_eq!(chunk_len(5, MIB), 5);
        assert_eq!(chunk_len(u64::MAX, u32::MAX), u32::MAX);
        assert_eq!(chunk_len(u64::MAX, usize::MAX), usize::MAX);
        assert_eq!(chunk_len(0, MIB), 0);
        // 4.5 GiB + 7 bytes through a 1 MiB buffer: 4608 full chunks + 1.
        let len = (9u64 << 29) + 7;
        assert_eq!(steps(len, MIB), Some(4609));
        assert_eq!(steps(len, 1usize << 20), Some(4609));
        assert_eq!(steps(1u64 << 32, MIB), Some(4096));
    }
}
