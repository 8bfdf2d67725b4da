//! mmkit-controls: negative controls for the QEMU user-mode matrix.
//!
//! Each subcommand performs, on purpose, one access that mmkit must never
//! make, so the matrix can show that the emulated CPUs really punish it:
//!
//! - `u32 FILE OFF`:   decode a u32 by pointer cast at byte OFF of a mapping
//!   of FILE (odd OFF → `lw` → SIGBUS on MIPS under qemu-user).
//! - `u64 FILE OFF`:   same for a u64 (OFF ≡ 4 mod 8 → `ldrd` → SIGBUS on
//!   ARMv7/ARMv5 under qemu-user).
//! - `u32-safe` / `u64-safe FILE OFF`: the same decode with
//!   `read_unaligned`: must survive everywhere and print the same value as
//!   the pointer cast does where that survives (proves the control itself
//!   is sound and only the access differs).
//! - `empty-write FILE`: create FILE empty, map one page for writing without
//!   `ftruncate`, store a byte → SIGBUS everywhere.
//! - `past-eof FILE`:  map FILE plus one page and read the first page
//!   wholly beyond EOF → SIGBUS everywhere.
//!
//! - `mmap-high NEWFILE`: not a control but an emulator probe: create a
//!   sparse file just over 4 GiB, write a marker at 4 GiB + 8 KiB with
//!   pwrite and map that offset with a 64-bit-offset mmap. Exit 0 when the
//!   mapping shows the marker, 1 when it shows the bytes at 8 KiB instead
//!   (the offset was truncated to 32 bits: qemu-user 7.2 does this for
//!   32-bit guests, so mmap paths beyond 4 GiB cannot be tested there).
//!
//! A surviving control prints `survived ...` and exits 0; setup errors exit
//! 2. This program is test-only and never shipped: the pointer casts below
//! are deliberate undefined behaviour.

use std::ffi::CString;
use std::hint::black_box;
use std::process::exit;

fn die(msg: &str) -> ! {
    eprintln!("mmkit-controls: {msg}");
    exit(2)
}

fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p <= 0 {
        4096
    } else {
        p as usize
    }
}

fn cpath(path: &str) -> CString {
    CString::new(path).unwrap_or_else(|_| die("path contains NUL"))
}

/// Open `path` read-only and map `len` bytes of it (MAP_SHARED, PROT_READ).
fn map_ro(path: &str, len: usize) -> *const u8 {
    let c = cpath(path);
    // SAFETY: `c` is a valid NUL-terminated string.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        die(&format!("open {path}: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: a fresh mapping chosen by the kernel; fd is open.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        die(&format!("mmap {path}: {}", std::io::Error::last_os_error()));
    }
    p as *const u8
}

fn file_len(path: &str) -> usize {
    let m = std::fs::metadata(path).unwrap_or_else(|e| die(&format!("stat {path}: {e}")));
    usize::try_from(m.len()).unwrap_or_else(|_| die("file too large for this control"))
}

fn parse_off(s: &str) -> usize {
    s.parse()
        .unwrap_or_else(|_| die(&format!("bad offset {s:?}")))
}

/// Map FILE, check OFF+width fits, return the (deliberately unaligned)
/// address of byte OFF. `black_box` hides the offset from the optimiser so
/// the load below is a plain word load, as in naive code.
fn addr(path: &str, off: usize, width: usize) -> *const u8 {
    let len = file_len(path);
    if off.checked_add(width).is_none_or(|end| end > len) {
        die(&format!(
            "offset {off} + {width} is past the end of {path} ({len} bytes)"
        ));
    }
    let base = map_ro(path, len);
    // SAFETY: off + width <= len, so the address is inside the mapping.
    black_box(unsafe { base.add(black_box(off)) })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a.get(1..).unwrap_or(&[]) {
        ["u32", f, off] => {
            let p = addr(f, parse_off(off), 4);
            // NEGATIVE CONTROL: pointer cast at a possibly unaligned address
            // (UB on purpose). MIPS emits `lw`, which faults when unaligned.
            #[allow(clippy::cast_ptr_alignment)]
            // SAFETY: not sound by design; see above.
            let v = unsafe { std::ptr::read_volatile(p as *const u32) };
            println!("survived u32 at {off}: {v:#010x}");
        }
        ["u64", f, off] => {
            let p = addr(f, parse_off(off), 8);
            // NEGATIVE CONTROL: u64 by pointer cast at 4 mod 8 (UB on
            // purpose). A volatile 64-bit load is a single `ldrd` on
            // ARMv5TE/ARMv7 (a plain deref may be split into two `ldr`),
            // which faults when not 8-aligned under qemu-user.
            #[allow(clippy::cast_ptr_alignment)]
            // SAFETY: not sound by design; see above.
            let v = unsafe { std::ptr::read_volatile(p as *const u64) };
            println!("survived u64 at {off}: {v:#018x}");
        }
        ["u32-safe", f, off] => {
            let p = addr(f, parse_off(off), 4);
            // SAFETY: in bounds; read_unaligned has no alignment requirement.
            let v = unsafe { std::ptr::read_unaligned(p as *const u32) };
            println!("survived u32 at {off}: {v:#010x}");
        }
        ["u64-safe", f, off] => {
            let p = addr(f, parse_off(off), 8);
            // SAFETY: in bounds; read_unaligned has no alignment requirement.
            let v = unsafe { std::ptr::read_unaligned(p as *const u64) };
            println!("survived u64 at {off}: {v:#018x}");
        }
        ["empty-write", f] => {
            let c = cpath(f);
            // SAFETY: `c` is a valid NUL-terminated string.
            let fd = unsafe {
                libc::open(
                    c.as_ptr(),
                    libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
                    0o644,
                )
            };
            if fd < 0 {
                die(&format!("create {f}: {}", std::io::Error::last_os_error()));
            }
            let len = page_size();
            // SAFETY: a fresh mapping chosen by the kernel; fd is open.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    fd,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                die(&format!("mmap {f}: {}", std::io::Error::last_os_error()));
            }
            // NEGATIVE CONTROL: the file is 0 bytes (no ftruncate), so no
            // page backs this store: SIGBUS.
            // SAFETY: not sound by design; see above.
            unsafe { std::ptr::write_volatile(p as *mut u8, 0x5a) };
            println!("survived empty-write");
        }
        ["past-eof", f] => {
            let len = file_len(f);
            if len == 0 {
                die("past-eof needs a non-empty file");
            }
            let ps = page_size();
            let eof_page = len.div_ceil(ps) * ps;
            let p = map_ro(f, eof_page + ps);
            // NEGATIVE CONTROL: the page at `eof_page` is wholly beyond EOF:
            // SIGBUS (the partial last page before it reads as zeros).
            // SAFETY: not sound by design; see above.
            let v = unsafe { std::ptr::read_volatile(p.add(black_box(eof_page))) };
            println!("survived past-eof: {v:#04x}");
        }
        ["mmap-high", f] => mmap_high(f),
        _ => {
            eprintln!(
                "usage: mmkit-controls u32|u64|u32-safe|u64-safe FILE OFFSET\n       \
                 mmkit-controls empty-write NEWFILE\n       \
                 mmkit-controls past-eof FILE\n       \
                 mmkit-controls mmap-high NEWFILE\n\
                 Test-only negative controls: the unsafe ones are meant to die of SIGBUS."
            );
            exit(2)
        }
    }
}

/// The `mmap-high` probe (see the module comment).
fn mmap_high(path: &str) {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::FileExt;
    let high: u64 = (1 << 32) + 8192;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .unwrap_or_else(|e| die(&format!("create {path}: {e}")));
    let setup = f
        .set_len(high + 4096)
        .and_then(|()| f.write_all_at(b"HIGH", high))
        .and_then(|()| f.write_all_at(b"LOW!", 8192));
    if let Err(e) = setup {
        die(&format!("write {path}: {e}"));
    }
    // SAFETY: a fresh read-only mapping of one page inside the file.
    #[cfg(target_env = "gnu")]
    let p = unsafe {
        libc::mmap64(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            high as libc::off64_t,
        )
    };
    // SAFETY: as above (off_t is 64-bit on musl).
    #[cfg(not(target_env = "gnu"))]
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            high as libc::off_t,
        )
    };
    if p == libc::MAP_FAILED {
        die(&format!(
            "mmap at {high}: {}",
            std::io::Error::last_os_error()
        ));
    }
    let mut got = [0u8; 4];
    // SAFETY: the mapping is 4096 bytes long and backed by the file.
    unsafe { std::ptr::copy_nonoverlapping(p as *const u8, got.as_mut_ptr(), 4) };
    drop(f);
    let _ = std::fs::remove_file(path);
    let got = String::from_utf8_lossy(&got).into_owned();
    if got == "HIGH" {
        println!("mmap at offset 4 GiB + 8 KiB reads the right bytes");
    } else {
        println!("mmap at offset 4 GiB + 8 KiB reads {got:?} (the bytes at 8 KiB): offset truncated to 32 bits");
        exit(1)
    }
}
